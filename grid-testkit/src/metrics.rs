//! `GET /metrics` of a real process, checked and parsed by an independent OpenMetrics parser.

use grid_proto::paths;
use grid_proto::scrape::Scrape;

/// `GET {base}/metrics`: a 200 of OpenMetrics text ending in `# EOF`, parsed.
pub async fn scrape(base: &str) -> Scrape {
    let resp = reqwest::get(format!("{base}{}", paths::METRICS))
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        grid_proto::metrics::CONTENT_TYPE
    );
    let text = resp.text().await.expect("the exposition");
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// One expected sample: family, labels, value.
pub type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Asserts each sample of `expected` has its value in `s`.
pub fn assert_values(s: &Scrape, expected: &[Expected<'_>]) {
    for (name, labels, value) in expected {
        assert_eq!(s.value(name, labels), Some(*value), "{name}{labels:?}");
    }
}
