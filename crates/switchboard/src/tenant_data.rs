//! What the API and the CLI share about a tenant as a whole: validating its settings, the quota
//! window, streaming an export of everything it has, and deleting it.

use crate::ingress::http::ApiError;
use axum::body::Bytes;
use futures_util::Stream;
use std::sync::Arc;
use switchboard_core::TenantId;
use switchboard_store::Store;
use switchboard_store::{ExportTable, StoreError, TenantSettings};

/// Rows read per page while exporting: bounds memory whatever the tenant's size.
const EXPORT_PAGE: u32 = 500;
const MAX_LANGUAGES: usize = 50;
const MAX_ORIGINS: usize = 50;

/// Seconds from `now_ms` to the start of the next UTC calendar month, when quotas start over.
pub fn seconds_to_next_month(now_ms: i64) -> u64 {
    use jiff::ToSpan as _;
    let next = jiff::Timestamp::from_millisecond(now_ms)
        .ok()
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().first_of_month())
        .and_then(|d| d.checked_add(1.month()).ok())
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_millisecond());
    match next {
        Some(next) => ((next - now_ms).max(0) as u64).div_ceil(1000).max(1),
        // Past jiff's range: any positive wait is as good as another.
        None => 86_400,
    }
}

/// The 429 an inbound message past the monthly quota gets.
pub fn quota_error(quota: u64, now_ms: i64) -> ApiError {
    ApiError::QuotaExceeded {
        message: format!("this tenant's quota of {quota} inbound messages this month is used up"),
        retry_after_s: seconds_to_next_month(now_ms),
    }
}

pub fn suspended_error(tenant: &TenantId) -> ApiError {
    ApiError::Forbidden("tenant_suspended", format!("tenant {tenant} is suspended"))
}

pub fn check_time_zone(zone: &str) -> Result<String, ApiError> {
    jiff::tz::TimeZone::get(zone).map(|_| zone.to_owned()).map_err(|_| {
        ApiError::Unprocessable(
            "bad_time_zone",
            format!("`time_zone`: {zone:?} is not an IANA time zone"),
        )
    })
}

/// Language codes as the bots use them: `en`, `pt-BR`.
pub fn check_languages(langs: Vec<String>) -> Result<Vec<String>, ApiError> {
    if langs.len() > MAX_LANGUAGES {
        return Err(ApiError::Unprocessable(
            "bad_languages",
            format!("`languages`: at most {MAX_LANGUAGES}"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(langs.len());
    for l in langs {
        let (primary, region) = l.split_once('-').unwrap_or((&l, ""));
        let ok = (2..=3).contains(&primary.len())
            && primary.chars().all(|c| c.is_ascii_lowercase())
            && (region.is_empty()
                || (2..=8).contains(&region.len()) && region.chars().all(|c| c.is_ascii_alphanumeric()))
            && !(region.is_empty() && l.ends_with('-'));
        if !ok {
            return Err(ApiError::Unprocessable(
                "bad_languages",
                format!("`languages`: {l:?} is not a language code like \"en\" or \"pt-BR\""),
            ));
        }
        if !out.contains(&l) {
            out.push(l);
        }
    }
    Ok(out)
}

/// Origins exactly as browsers send them: `scheme://host[:port]`, no path, lower case.
pub fn check_origins(origins: Vec<String>) -> Result<Vec<String>, ApiError> {
    if origins.len() > MAX_ORIGINS {
        return Err(ApiError::Unprocessable(
            "bad_allowed_origins",
            format!("`allowed_origins`: at most {MAX_ORIGINS}"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(origins.len());
    for o in origins {
        let bad = || {
            ApiError::Unprocessable(
                "bad_allowed_origins",
                format!("`allowed_origins`: {o:?} is not an origin like \"https://shop.example\""),
            )
        };
        let uri: axum::http::Uri = o.parse().map_err(|_| bad())?;
        let scheme = uri.scheme_str().ok_or_else(bad)?.to_ascii_lowercase();
        let authority = uri.authority().ok_or_else(bad)?.as_str().to_ascii_lowercase();
        let canonical = format!("{scheme}://{authority}");
        if !matches!(scheme.as_str(), "http" | "https")
            || authority.contains('@')
            || !o.eq_ignore_ascii_case(&canonical)
        {
            return Err(bad());
        }
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    Ok(out)
}

/// Whether a tenant is suspended; an unknown tenant is not (callers answer 404 for it first).
pub async fn suspended(store: &dyn Store, tenant: &TenantId) -> Result<bool, StoreError> {
    Ok(store.tenant_settings(tenant).await?.suspended_at.is_some())
}

pub fn settings_view(s: &TenantSettings) -> serde_json::Value {
    serde_json::json!({
        "time_zone": s.time_zone,
        "languages": s.languages,
        "consent_required": s.consent_required,
        "monthly_message_quota": s.monthly_message_quota,
        "allowed_origins": s.allowed_origins,
        "suspended": s.suspended_at.is_some(),
        "suspended_at": s.suspended_at.map(switchboard_core::clock::rfc3339),
        "updated_at": s.updated_at.map(switchboard_core::clock::rfc3339),
    })
}

/// Every record of the tenant as JSON Lines, `{"type": ..., "data": {...}}`, read a page at a
/// time: the tenant is never held in memory whole.
pub fn export(store: Arc<dyn Store>, tenant: TenantId) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let state = (store, tenant, 0usize, 0i64);
    futures_util::stream::unfold(state, |(store, tenant, table_i, after)| async move {
        let table = *ExportTable::ALL.get(table_i)?;
        let page = match store.export_page(&tenant, table, after, EXPORT_PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "tenant export interrupted");
                // Ends the stream after the error: a truncated export must not look complete.
                let state = (store, tenant, ExportTable::ALL.len(), 0);
                return Some((Err(std::io::Error::other(e.to_string())), state));
            }
        };
        let mut out = String::new();
        for (_, row) in &page {
            let line = serde_json::json!({ "type": table.label(), "data": row });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        let next = match page.last() {
            Some((last, _)) if page.len() == EXPORT_PAGE as usize => (store, tenant, table_i, *last),
            _ => (store, tenant, table_i + 1, 0),
        };
        Some((Ok(Bytes::from(out)), next))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_start_over_at_the_next_utc_month() {
        // 2026-01-31T23:59:59Z -> one second to February.
        assert_eq!(seconds_to_next_month(1_769_903_999_000), 1);
        // 2026-12-15T00:00:00Z -> 17 days to 2027-01-01.
        assert_eq!(seconds_to_next_month(1_797_292_800_000), 17 * 86_400);
    }

    #[test]
    fn settings_values_are_checked() {
        assert!(check_time_zone("Europe/Paris").is_ok());
        assert!(check_time_zone("Mars/Olympus").is_err());
        assert_eq!(
            check_languages(vec!["en".into(), "pt-BR".into(), "en".into()]).expect("ok"),
            vec!["en", "pt-BR"]
        );
        assert!(check_languages(vec!["English".into()]).is_err());
        assert_eq!(
            check_origins(vec!["https://Shop.example:8443".into()]).expect("ok"),
            vec!["https://shop.example:8443"]
        );
        for bad in [
            "https://shop.example/",
            "shop.example",
            "ftp://x.example",
            "https://a@b.example",
            "*",
        ] {
            assert!(check_origins(vec![bad.into()]).is_err(), "{bad}");
        }
    }
}
