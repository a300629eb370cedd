//! A browser as the console's HTTP tests drive it: redirects are not followed and there is no
//! cookie jar (each request sends the cookies kept so far, so a test sees every cookie set), the
//! CSRF token is read from its cookie. Each test file adds the helpers of its own pages in its
//! own `impl Visitor` block.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use store::Actor;

use crate::helpers::TestApp;

/// The password the console tests give their users.
pub(crate) const PASSWORD: &str = "correct horse battery";

pub(crate) struct Visitor {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: Vec<(String, String)>,
}

pub(crate) struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text (lossy for a file that is not).
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Page {
    /// Where a redirect points.
    pub(crate) fn location(&self) -> &str {
        self.headers[LOCATION].to_str().unwrap()
    }
}

impl Visitor {
    pub(crate) fn new(app: &TestApp) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: Vec::new(),
        }
    }

    /// Keeps the cookies an answer sets; an empty value deletes one.
    pub(crate) fn keep(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The CSRF token every form must repeat.
    pub(crate) fn csrf(&self) -> String {
        self.cookie("oc_csrf").unwrap().to_owned()
    }

    /// The `Cookie` header of the next request.
    pub(crate) fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends `request` with the cookies kept, and keeps those the answer sets.
    pub(crate) async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request.header(COOKIE, self.header()).send().await.unwrap();
        self.page(response).await
    }

    pub(crate) async fn page(&mut self, response: reqwest::Response) -> Page {
        let (status, headers) = (response.status(), response.headers().clone());
        self.keep(&headers);
        let bytes = response.bytes().await.unwrap().to_vec();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A form posted as it is given (pairs of names and values).
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// [`Visitor::post`] with owned pairs (a form built from a document).
    pub(crate) async fn post_owned(&mut self, path: &str, form: &[(String, String)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// A form with the CSRF token added, as the page sends it.
    pub(crate) async fn submit(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut fields = form.to_vec();
        fields.push(("csrf", &csrf));
        self.post(path, &fields).await
    }

    pub(crate) async fn post_multipart(
        &mut self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .multipart(form);
        self.send(request).await
    }

    /// Signs in as `name` through the form; the answer to the form.
    pub(crate) async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        self.get("/console/login").await;
        let csrf = self.csrf();
        self.post(
            "/console/login",
            &[("name", name), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// A new visitor signed in as `name` (whose password is [`PASSWORD`]) in `language`.
    pub(crate) async fn signed_in(app: &TestApp, name: &str, language: &str) -> Visitor {
        let mut visitor = Visitor::new(app);
        visitor
            .get(&format!("/console/login?lang={language}"))
            .await;
        let signed = visitor.sign_in(name, PASSWORD).await;
        assert_eq!(
            signed.status,
            StatusCode::SEE_OTHER,
            "{name}: {}",
            signed.body
        );
        visitor
    }
}

/// Gives each of `users` the password [`PASSWORD`].
pub(crate) async fn with_passwords(app: &TestApp, users: &[&str]) {
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    for user in users {
        app.clearance
            .set_password_as(&admin, user, PASSWORD)
            .await
            .unwrap();
    }
}
