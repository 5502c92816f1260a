//! The widget for people a customer's site has signed in: vouched for by the site's server
//! (a signature in the page, or a JWT through the JS API), one conversation in every browser.

use crate::api::call;
use crate::browser::Browser;
use crate::helpers::*;
use crate::tenants::root;
use crate::widget::{allow, shop_page, site};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identified_person_continues_the_same_conversation_in_another_browser() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    let secret = identity_secret(&app, &admin).await;
    let signature = sign(&secret, "cust-42");
    let shop = site(vec![
        (
            "/account",
            shop_page(
                &app,
                &format!(" data-user=\"cust-42\" data-user-signature=\"{signature}\""),
            ),
        ),
        ("/", shop_page(&app, "")),
    ])
    .await;
    allow(&app, &admin, &[&shop.origin]).await;

    let laptop = Browser::start().await;
    laptop.goto(&format!("{}/account", shop.origin)).await;
    laptop.wait_widget().await;
    laptop.widget_click(".launcher").await;
    laptop.widget_say("hello").await;
    laptop.widget_wait_bot(1).await;
    assert_eq!(laptop.stored_session().await["user"], "cust-42");

    // Another browser profile (a phone): first an anonymous visitor, then the site signs the
    // person in through the JS API (with a JWT this time) and their conversation comes along.
    let phone = Browser::start().await;
    phone.goto(&format!("{}/", shop.origin)).await;
    phone.wait_widget().await;
    phone.widget_click(".launcher").await;
    phone.widget_say("what can you do").await;
    phone.widget_wait_bot(1).await;
    assert_ne!(phone.stored_session().await["user"], "cust-42");
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "cust-42", "exp": jsonwebtoken::get_current_timestamp() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("a JWT");
    let who = phone
        .script(&format!(
            "return Switchboard.identify({{jwt: '{jwt}'}}).then(r => r.user)"
        ))
        .await;
    assert_eq!(who, "cust-42");
    eventually(20, "the person's conversation on the phone", || async {
        (phone.widget_messages("in").await == ["hello"]).then_some(())
    })
    .await;
    phone.widget_say("tell me a joke").await;
    phone.widget_wait_bot(2).await;
    phone.screenshot("widget-6-second-device").await;
    // The laptop's open widget gets the phone's turn live: it is one conversation.
    eventually(20, "the phone's message on the laptop", || async {
        (laptop.widget_messages("in").await == ["hello", "tell me a joke"]).then_some(())
    })
    .await;

    // Signed out on the site (the page names nobody): the laptop forgets the person's session.
    laptop.goto(&format!("{}/", shop.origin)).await;
    laptop.wait_widget().await;
    eventually(20, "the person's session gone from the laptop", || async {
        (laptop.stored_session().await["user"] != "cust-42").then_some(())
    })
    .await;
    assert!(laptop.widget_messages("in").await.is_empty());

    // A forged signature is refused, and the widget says so.
    let forged = phone
        .script("return Switchboard.identify({user: 'cust-43', signature: '00'}).then(() => 'ok', e => e.status)")
        .await;
    assert_eq!(forged, 403);
    let why = phone
        .in_widget("return root.querySelector('.unavailable').textContent")
        .await;
    assert!(
        why.as_str()
            .unwrap_or_default()
            .contains("sign-in could not be confirmed"),
        "{why}"
    );
    phone.call(Method::DELETE, "", json!({})).await;
    laptop.call(Method::DELETE, "", json!({})).await;
}

/// HMAC-SHA256 of the user id under the tenant's identity secret, as the site's server signs it.
fn sign(secret: &str, user: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(user.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The tenant's identity secret, as its admin gets it.
async fn identity_secret(app: &TestApp, admin: &str) -> String {
    let (status, body) = call(
        app,
        Method::PUT,
        "/v1/tenants/demo/secrets/chat_identity",
        Some(admin),
        Some(json!({"generate": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_str().expect("the generated secret").to_owned()
}
