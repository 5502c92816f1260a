//! Twilio webhooks: Programmable Messaging (SMS, MMS, WhatsApp), message status callbacks and
//! Voice (twilio.com/docs/usage/security, /docs/messaging/guides/webhook-request).
//!
//! Verification: `X-Twilio-Signature` is base64(HMAC-SHA1(auth token, URL + params)), where the
//! URL is the one Twilio called and, for form bodies, params are every name+value pair sorted by
//! name then value (identical pairs counted once, as the official SDKs do). When the URL carries
//! `bodySHA256` (JSON bodies) the body must hash to it and the URL alone is signed. The URL must
//! be the public one (configured base URL + path + query): a proxy changes what the server sees.
//! Twilio drops credentials from the URL it signs, and keeps or drops the port depending on the
//! product (it drops it for voice over HTTPS), so like the SDK we accept the URL with the port
//! removed, or with the scheme's default port added when it has none. There is no timestamp, so
//! there is no replay window: dedup is what stops replays.
//!
//! Events and dedup keys:
//! * inbound SMS / MMS / WhatsApp: `Message`, event id `MessageSid`. A WhatsApp quick-reply
//!   button (`ButtonPayload`) is `Interactive`.
//! * status callbacks: `Status`, event id `<MessageSid>:<MessageStatus>`; the conversation is
//!   the recipient (`To`), since the message was ours.
//! * voice: the call arriving is a `Message` without text, event id `<CallSid>:call`. A
//!   `<Gather>` result is a `Message` whose text is `SpeechResult` or `Digits`, event id
//!   `<CallSid>:speech:<h>` / `<CallSid>:digits:<h>` with `h` the first 16 hex digits of the
//!   SHA-256 of the result: nothing else in the payload tells two turns of one call apart, and a
//!   retry of the same webhook must dedup. The cost: the same answer given twice in one call is
//!   taken for a retry. A gather that ended without input (`actionOnEmptyResult`) is a `Message`
//!   without text, event id `<CallSid>:noinput`.
//! * the call ending (`CallStatus` completed, busy, no-answer, failed or canceled): `Membership`
//!   `BotRemoved`, event id `<CallSid>:<CallStatus>`. The call is the conversation, and the bot
//!   is no longer in it, which is what `BotRemoved` tells the router on every other channel; the
//!   caller did not block anyone, and no message of ours has a status to report.
//!
//! `account_id` is the payload's `AccountSid`, which must be the connector's account: a payload
//! signed for another (sub)account is refused. The payloads carry no event time, so
//! `timestamp_ms` is 0 and the caller stamps the receipt time.

use crate::outbound;
use crate::verify::{VerifyError, equal, header, hmac_sha1};
use crate::{
    Attachment, AttachmentKind, DeliveryState, DeliveryStatus, EventKind, Fetch, InboundEvent, Interactive, Location,
    Membership, ParseError,
};
use base64::Engine;
use serde::Deserialize;
use sha2::Digest;
use std::collections::HashMap;
use switchboard_core::Channel;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

const CHANNEL: &str = "twilio";

pub fn verify(
    headers: &http::HeaderMap,
    public_url: &str,
    body: &[u8],
    content_type: &str,
    auth_token: &str,
) -> Result<(), VerifyError> {
    if auth_token.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let sent = header(headers, SIGNATURE_HEADER)?;
    let sent = base64::engine::general_purpose::STANDARD
        .decode(sent.trim())
        .map_err(|_| VerifyError::MalformedHeader(SIGNATURE_HEADER))?;

    // Keyed on the URL rather than the content type, as the SDK does: a request whose URL
    // names a body hash is signed without params, so the hash is what binds the body.
    let signed_params = match query_param(public_url, "bodySHA256") {
        Some(hash) => {
            let sent_hash = hex::decode(hash.trim()).map_err(|_| VerifyError::BadSignature)?;
            if !equal(&sent_hash, &sha2::Sha256::digest(body)) {
                return Err(VerifyError::BadSignature);
            }
            Vec::new()
        }
        // Without a hash nothing would tie a JSON body to the signature.
        None if is_json(content_type) => return Err(VerifyError::BadSignature),
        None => {
            let mut pairs = form_pairs(body);
            pairs.sort();
            pairs.dedup();
            pairs.into_iter().flat_map(|(name, value)| [name, value]).collect()
        }
    };

    let mut matched = false;
    for url in signed_urls(public_url) {
        let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
        parts.extend(signed_params.iter().map(Vec::as_slice));
        // Every candidate is computed and compared, so timing says nothing about which matched.
        matched |= equal(&hmac_sha1(auth_token.as_bytes(), &parts), &sent);
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    mime.eq_ignore_ascii_case("application/json")
}

/// `application/x-www-form-urlencoded` pairs as bytes, decoded the way `serde_urlencoded` (the
/// WHATWG parser) decodes them, so the params signed are the params parsed. Bytes, not strings:
/// the signature is over whatever was sent, valid UTF-8 or not.
fn form_pairs(body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    body.split(|b| *b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.iter().position(|b| *b == b'=') {
            Some(eq) => (percent_decode(&part[..eq]), percent_decode(&part[eq + 1..])),
            None => (percent_decode(part), Vec::new()),
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        let escaped = match (b, input.get(i + 1), input.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (b, escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            // A `%` not followed by two hex digits stays as it is.
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The first value of `name` in the URL's query string, decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split('#').next()?.split_once('?')?.1;
    form_pairs(query.as_bytes())
        .into_iter()
        .find(|(n, _)| n == name.as_bytes())
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
}

/// The URL forms Twilio may have signed: as configured (less any credentials), and with the port
/// removed, or with the scheme's default port added when there is none.
fn signed_urls(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_owned()];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    // The port colon is the last one, unless it sits inside an IPv6 literal.
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (host_port, None),
    };
    let join = |authority: &str| format!("{scheme}://{authority}{tail}");
    let mut urls = vec![join(host_port)];
    match port {
        Some(_) => urls.push(join(host)),
        None => {
            let default = if scheme.eq_ignore_ascii_case("https") {
                Some(443)
            } else if scheme.eq_ignore_ascii_case("http") {
                Some(80)
            } else {
                None
            };
            if let Some(p) = default {
                urls.push(join(&format!("{host}:{p}")));
            }
        }
    }
    urls
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Form {
    account_sid: Option<String>,
    message_sid: Option<String>,
    call_sid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    body: Option<String>,
    profile_name: Option<String>,
    button_payload: Option<String>,
    button_text: Option<String>,
    original_replied_message_sid: Option<String>,
    latitude: Option<String>,
    longitude: Option<String>,
    address: Option<String>,
    label: Option<String>,
    message_status: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    call_status: Option<String>,
    direction: Option<String>,
    caller_name: Option<String>,
    speech_result: Option<String>,
    digits: Option<String>,
    /// Everything else, where the numbered `MediaUrl{i}` / `MediaContentType{i}` land.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

/// Twilio sends absent values as empty params (`ToCity=`).
fn present(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

fn kind_of(mime: Option<&str>) -> AttachmentKind {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") => AttachmentKind::Image,
        Some("audio") => AttachmentKind::Audio,
        Some("video") => AttachmentKind::Video,
        _ => AttachmentKind::File,
    }
}

fn short_hash(s: &str) -> String {
    let mut h = hex::encode(sha2::Sha256::digest(s.as_bytes()));
    h.truncate(16);
    h
}

/// Parses one form-encoded webhook body. `account_sid` is the connector's account.
pub fn parse(body: &[u8], account_sid: &str) -> Result<Vec<InboundEvent>, ParseError> {
    let f: Form = serde_urlencoded::from_bytes(body).map_err(|e| ParseError::new(CHANNEL, e))?;
    let account = f
        .account_sid
        .as_deref()
        .ok_or_else(|| ParseError::new(CHANNEL, "no AccountSid"))?;
    if account != account_sid {
        return Err(ParseError::new(
            CHANNEL,
            format!("AccountSid {account} is not this connector's account"),
        ));
    }
    if let Some(status) = present(&f.message_status)
        && !matches!(status.as_str(), "received" | "receiving")
    {
        return Ok(status_event(&f, account, &status)?.into_iter().collect());
    }
    if let Some(call) = present(&f.call_sid) {
        return voice_event(&f, account, &call).map(|e| vec![e]);
    }
    message_event(&f, account).map(|e| vec![e])
}

fn status_event(f: &Form, account: &str, status: &str) -> Result<Option<InboundEvent>, ParseError> {
    let state = match status {
        "accepted" | "queued" | "sending" | "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" | "undelivered" | "canceled" => DeliveryState::Failed,
        // `scheduled` and statuses Twilio may add later say nothing about delivery yet.
        _ => return Ok(None),
    };
    let sid = present(&f.message_sid).ok_or_else(|| ParseError::new(CHANNEL, "status callback without MessageSid"))?;
    let mut e = InboundEvent::new(Channel::Twilio, account, EventKind::Status, format!("{sid}:{status}"));
    // The message was ours, so the person is its recipient.
    let person = present(&f.to).unwrap_or_default();
    e.conversation_id = person.clone();
    e.sender.id = person;
    e.message_id = Some(sid.clone());
    e.status = Some(DeliveryStatus {
        message_id: sid,
        state,
        error_code: present(&f.error_code),
        error_message: present(&f.error_message),
    });
    Ok(Some(e))
}

fn voice_event(f: &Form, account: &str, call: &str) -> Result<InboundEvent, ParseError> {
    let status = present(&f.call_status).unwrap_or_default();
    let speech = present(&f.speech_result);
    let digits = present(&f.digits);
    let ended = matches!(
        status.as_str(),
        "completed" | "busy" | "no-answer" | "failed" | "canceled"
    );
    let (kind, event_id, text) = if ended {
        (EventKind::Membership, format!("{call}:{status}"), None)
    } else if let Some(s) = speech {
        (EventKind::Message, format!("{call}:speech:{}", short_hash(&s)), Some(s))
    } else if let Some(d) = digits {
        (EventKind::Message, format!("{call}:digits:{}", short_hash(&d)), Some(d))
    } else if matches!(status.as_str(), "" | "queued" | "initiated" | "ringing") {
        (EventKind::Message, format!("{call}:call"), None)
    } else {
        (EventKind::Message, format!("{call}:noinput"), None)
    };
    let mut e = InboundEvent::new(Channel::Twilio, account, kind, event_id);
    // On calls we placed, `From` is our number and the person is `To`.
    let outbound = f.direction.as_deref().is_some_and(|d| d.starts_with("outbound"));
    let person = if outbound { &f.to } else { &f.from };
    let person = present(person).ok_or_else(|| ParseError::new(CHANNEL, "voice webhook without the caller"))?;
    e.conversation_id = person.clone();
    e.sender.id = person;
    e.sender.display_name = present(&f.caller_name);
    e.message_id = Some(call.to_owned());
    e.text = text;
    if ended {
        e.membership = Some(Membership::BotRemoved);
    }
    Ok(e)
}

fn message_event(f: &Form, account: &str) -> Result<InboundEvent, ParseError> {
    let sid = present(&f.message_sid).ok_or_else(|| ParseError::new(CHANNEL, "neither MessageSid nor CallSid"))?;
    let from = present(&f.from).ok_or_else(|| ParseError::new(CHANNEL, "message without From"))?;
    let button = present(&f.button_payload);
    let kind = if button.is_some() {
        EventKind::Interactive
    } else {
        EventKind::Message
    };
    let mut e = InboundEvent::new(Channel::Twilio, account, kind, sid.clone());
    e.conversation_id = from.clone();
    e.sender.id = from;
    e.sender.display_name = present(&f.profile_name);
    e.message_id = Some(sid);
    e.text = present(&f.body).or_else(|| present(&f.button_text));
    e.reply_to_message_id = present(&f.original_replied_message_sid);
    if let Some(payload) = button {
        e.interactive = Some(Interactive {
            payload,
            title: present(&f.button_text),
            source_message_id: present(&f.original_replied_message_sid),
            ack_id: None,
        });
    }
    // Numbered params, ordered by their number; the keys present bound the work, not `NumMedia`.
    let mut media: Vec<(u32, &String)> = f
        .rest
        .iter()
        .filter_map(|(k, url)| Some((k.strip_prefix("MediaUrl")?.parse().ok()?, url)))
        .filter(|(_, url)| !url.is_empty())
        .collect();
    media.sort();
    for (i, url) in media {
        let mime = f.rest.get(&format!("MediaContentType{i}")).filter(|m| !m.is_empty());
        let mut a = Attachment::new(kind_of(mime.map(String::as_str)), Fetch::Url(url.clone()));
        a.mime = mime.cloned();
        e.attachments.push(a);
    }
    let coordinates = present(&f.latitude)
        .and_then(|lat| lat.parse::<f64>().ok())
        .zip(present(&f.longitude).and_then(|lon| lon.parse::<f64>().ok()));
    if let Some((latitude, longitude)) = coordinates {
        let mut a = Attachment::new(AttachmentKind::Location, Fetch::None);
        a.location = Some(Location {
            latitude,
            longitude,
            name: present(&f.label),
            address: present(&f.address),
        });
        e.attachments.push(a);
    }
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// Outbound

/// Twilio's limit for one message body (SMS is sent as up to 10 concatenated segments).
pub const TEXT_LIMIT: usize = 1600;
const WHATSAPP_PREFIX: &str = "whatsapp:";

/// The calls that send `reply` to `to.conversation_id` (an E.164 number, or `whatsapp:+…`) as
/// `POST Accounts/{AccountSid}/Messages.json` forms (`To`, `From`, `Body`) with HTTP Basic auth
/// (AccountSid, auth token). `to.endpoint` is the sender: our number (given the `whatsapp:` prefix
/// when the recipient has it and it lacks it), or a Messaging Service (`MG…`, sent as
/// `MessagingServiceSid`); without an endpoint the form has no sender and Twilio refuses it.
/// Buttons become numbered options in the text (SMS has no controls; WhatsApp quick replies
/// need a Content API template). The text is split at 1600 characters, one message per piece.
/// Rich replies: an image is an MMS (`MediaUrl`, its caption as `Body`), each card one message
/// with its picture attached and its buttons numbered, a list numbered options.
pub fn render(reply: &outbound::Reply, to: &outbound::Target) -> Vec<outbound::Call> {
    let sender = to.endpoint.as_deref().map(|from| {
        if from.starts_with("MG") {
            ("MessagingServiceSid", from.to_owned())
        } else if to.conversation_id.starts_with(WHATSAPP_PREFIX) && !from.starts_with(WHATSAPP_PREFIX) {
            ("From", format!("{WHATSAPP_PREFIX}{from}"))
        } else {
            ("From", from.to_owned())
        }
    });
    let pieces = match &reply.rich {
        None => vec![crate::rich::text::Piece {
            text: outbound::numbered(reply),
            media: None,
        }],
        Some(rich) => crate::rich::text::pieces(rich, reply, true),
    };
    let mut calls = Vec::new();
    for piece in pieces {
        let texts = outbound::split(&piece.text, TEXT_LIMIT);
        // A picture goes with the first part of its text, as an MMS (`MediaUrl`).
        let mut media = piece.media;
        for text in texts {
            let mut form = vec![("To".to_owned(), to.conversation_id.clone())];
            if let Some((name, value)) = &sender {
                form.push(((*name).to_owned(), value.clone()));
            }
            if !text.is_empty() || media.is_none() {
                form.push(("Body".to_owned(), text));
            }
            if let Some(url) = media.take() {
                form.push(("MediaUrl".to_owned(), url));
            }
            calls.push(outbound::Call {
                method: http::Method::POST,
                path: format!("Accounts/{}/Messages.json", to.account_id),
                auth: outbound::Auth::Basic("auth_token"),
                body: outbound::Body::Form(form),
            });
        }
    }
    calls
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiAnswer {
    sid: Option<String>,
    code: Option<i64>,
    message: Option<String>,
}

/// Error 21610: the recipient answered STOP; nothing may be sent until they opt in again.
pub const UNSUBSCRIBED: i64 = 21610;
/// Error 63016: WhatsApp free-form message outside the 24-hour window; a template is needed.
pub const OUTSIDE_WINDOW: i64 = 63016;
/// Error 20429: too many concurrent requests.
pub const TOO_MANY_REQUESTS: i64 = 20429;

/// Classifies an answer of the Messages resource: a `sid` is sent (201 with the message);
/// 21610 (unsubscribed) and 63016 (outside the WhatsApp window) are permanent; 20429 and
/// HTTP 429 wait for the `Retry-After` header, else 1 s; the rest follows the HTTP status, with
/// Twilio's message as the reason.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> outbound::Outcome {
    use outbound::Outcome;
    let answer: ApiAnswer = serde_json::from_slice(body).unwrap_or_default();
    if (200..300).contains(&status) {
        return Outcome::Sent(answer.sid);
    }
    let reason = answer.message.unwrap_or_else(|| format!("HTTP {status}"));
    match answer.code {
        Some(UNSUBSCRIBED) => Outcome::Blocked(format!(
            "twilio: the recipient unsubscribed (STOP), nothing can be sent until they opt in ({UNSUBSCRIBED}): {reason}"
        )),
        Some(OUTSIDE_WINDOW) => Outcome::Permanent(format!(
            "twilio: outside the WhatsApp 24-hour window, only a template can be sent ({OUTSIDE_WINDOW}): {reason}"
        )),
        Some(TOO_MANY_REQUESTS) => Outcome::RetryAfter(retry_after_header.unwrap_or(1)),
        _ => match outbound::by_status(status, retry_after_header) {
            Some(Outcome::RetryAfter(s)) => Outcome::RetryAfter(s),
            Some(Outcome::Transient(_)) => Outcome::Transient(format!("twilio: {reason}")),
            _ => Outcome::Permanent(format!("twilio: {reason}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_follow_the_sdk() {
        assert_eq!(
            signed_urls("https://h.example/p?q=1"),
            ["https://h.example/p?q=1", "https://h.example:443/p?q=1"]
        );
        assert_eq!(
            signed_urls("http://user:pw@h.example:8080/p"),
            ["http://h.example:8080/p", "http://h.example/p"]
        );
        assert_eq!(
            signed_urls("https://[::1]/p"),
            ["https://[::1]/p", "https://[::1]:443/p"]
        );
        assert_eq!(signed_urls("https://[::1]:443"), ["https://[::1]:443", "https://[::1]"]);
        assert_eq!(signed_urls("not a url"), ["not a url"]);
    }

    #[test]
    fn form_decoding_matches_the_whatwg_parser() {
        assert_eq!(
            form_pairs(b"a=1+2&&b&c=%41%zz%4&d=%F0%9F%91%8D"),
            vec![
                (b"a".to_vec(), b"1 2".to_vec()),
                (b"b".to_vec(), Vec::new()),
                (b"c".to_vec(), b"A%zz%4".to_vec()),
                (b"d".to_vec(), "\u{1f44d}".as_bytes().to_vec()),
            ]
        );
        assert_eq!(
            query_param("https://x/p?a=1&bodySHA256=ab#f", "bodySHA256").as_deref(),
            Some("ab")
        );
        assert_eq!(query_param("https://x/p", "bodySHA256"), None);
    }
}
