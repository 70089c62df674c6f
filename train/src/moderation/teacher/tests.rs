//! The client against the fake teacher: retries, give-up, cache, variants, rate limit.

use super::fake::{keyword_answer, FakeReply, FakeTeacher};
use super::*;
use std::time::Duration;

const POLICY: &str = r#"
[policy]
id = "t-chat"
version = "1"

[[categories]]
name = "spam"
definition = "Advertising."
severity = "low"
decision = "flag"
target_precision = 0.9
positive_examples = ["Buy now!"]
negative_examples = ["I bought bread."]

[[categories]]
name = "profanity"
definition = "Swear words."
severity = "low"
decision = "allow"
target_precision = 0.8
positive_examples = ["damn it"]
negative_examples = ["oh dear"]
"#;

const RULES: &[(&str, &[&str])] = &[("spam", &["buy", "free"]), ("profanity", &["damn"])];

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

fn config(url: String) -> TeacherConfig {
    TeacherConfig {
        url,
        model: "fake-7b".into(),
        retries: 3,
        backoff: Duration::from_millis(1),
        rate: None,
        timeout: Duration::from_secs(5),
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mote-teacher-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn texts() -> Vec<String> {
    [
        "Buy cheap watches, free shipping",
        "damn, I missed the bus",
        "see you at the club",
        "oh gosh, free damn stuff",
        "gosh that was close",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn a_server_error_and_a_garbage_answer_are_retried() {
    let fake = FakeTeacher::start(|r| match r.index {
        0 => FakeReply::error(500, "model is loading"),
        1 => FakeReply::completion("Sorry, I cannot help with that."),
        // The answer wrapped in a fence and sent chunked.
        _ => FakeReply::completion(&format!("```json\n{}\n```", keyword_answer(RULES, &r.text)))
            .chunked(),
    })
    .unwrap();
    let p = policy();
    let mut teacher = Teacher::new(config(fake.url())).unwrap();
    let labels = teacher
        .ask(&p, PromptFormat::CANONICAL, "Buy now, damn it")
        .unwrap();
    assert_eq!(labels, [true, true]);
    let s = teacher.stats;
    assert_eq!(
        (
            s.requests,
            s.retries,
            s.busy_or_server_errors,
            s.bad_answers
        ),
        (3, 2, 1, 1)
    );
    assert_eq!(fake.requests(), 3);
}

#[test]
fn persistent_failures_give_up_and_client_errors_stop_at_once() {
    let fake = FakeTeacher::start(|_| FakeReply::error(503, "overloaded")).unwrap();
    let p = policy();
    let mut teacher = Teacher::new(config(fake.url())).unwrap();
    let e = teacher.ask(&p, PromptFormat::CANONICAL, "x").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, LabelError::GaveUp { attempts: 4, .. }), "{e:?}");
    assert!(
        text.contains("HTTP 503") && text.contains("overloaded"),
        "{text}"
    );
    assert!(text.contains("/v1/chat/completions"), "{text}");
    assert_eq!(fake.requests(), 4);

    let fake = FakeTeacher::start(|_| FakeReply::error(404, "model fake-7b not found")).unwrap();
    let mut teacher = Teacher::new(config(fake.url())).unwrap();
    let e = teacher.ask(&p, PromptFormat::CANONICAL, "x").unwrap_err();
    assert!(matches!(e, LabelError::Status { status: 404, .. }), "{e:?}");
    assert!(e.to_string().contains("model fake-7b not found"), "{e}");
    assert_eq!(fake.requests(), 1, "a 404 is not retried");

    // Unknown category in the answer: retried, then reported with the answer.
    let fake = FakeTeacher::start(|_| {
        FakeReply::completion(r#"{"labels": {"spam": 1, "profanity": 0, "toxic": 1}}"#)
    })
    .unwrap();
    let mut teacher = Teacher::new(config(fake.url())).unwrap();
    let e = teacher.ask(&p, PromptFormat::CANONICAL, "x").unwrap_err();
    assert!(e.to_string().contains("unknown categories toxic"), "{e}");
    assert_eq!(teacher.stats.bad_answers, 4);
}

#[test]
fn the_request_follows_the_protocol_and_carries_the_model() {
    let fake = FakeTeacher::start(|r| {
        assert_eq!(r.model, "fake-7b");
        assert!(r.system.contains("Swear words."));
        FakeReply::completion(&keyword_answer(RULES, &r.text))
    })
    .unwrap();
    // A base URL ending in /v1 is not doubled.
    let mut teacher = Teacher::new(config(format!("{}/v1/", fake.url()))).unwrap();
    let endpoint = teacher.endpoint();
    assert!(
        endpoint.ends_with("/v1/chat/completions") && !endpoint.contains("/v1/v1"),
        "{endpoint}"
    );
    let labels = teacher
        .ask(&policy(), PromptFormat::CANONICAL, "free stuff")
        .unwrap();
    assert_eq!(labels, [true, false]);
    assert_eq!(teacher.stats.requests, 1);
}

#[test]
fn a_rerun_is_served_from_the_cache() {
    let fake =
        FakeTeacher::start(|r| FakeReply::completion(&keyword_answer(RULES, &r.text))).unwrap();
    let p = policy();
    let dir = temp_dir("cache");
    let texts = texts();
    let run = |model: &str| {
        let mut c = config(fake.url());
        c.model = model.into();
        let mut l = Labeller::new(&p, Teacher::new(c).unwrap(), Some(LabelCache::new(&dir)));
        let labels = l
            .label_all(&[PromptFormat::CANONICAL], &texts, &mut |_, _| {})
            .unwrap();
        (labels, l.cache_hits, l.teacher.stats.requests)
    };
    let (first, hits, requests) = run("fake-7b");
    assert_eq!((hits, requests, fake.requests()), (0, 5, 5));
    assert_eq!(
        first[0],
        [
            vec![true, false],
            vec![false, true],
            vec![false, false],
            vec![true, true],
            vec![false, false]
        ]
    );
    let (second, hits, requests) = run("fake-7b");
    assert_eq!(second, first);
    assert_eq!((hits, requests), (5, 0));
    assert_eq!(fake.requests(), 5, "the second run sent no request");
    // Another model name is another cache entry.
    let (_, hits, requests) = run("fake-13b");
    assert_eq!((hits, requests, fake.requests()), (0, 5, 10));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn variants_measure_format_sensitivity() {
    // In prose, this teacher also counts "gosh" as profanity; with examples first it misses
    // "free" as spam.
    let fake = FakeTeacher::start(|r| {
        let prose = !r.system.contains("## spam");
        let examples_first = r.system.find("\"Buy now!\"") < r.system.find("Advertising.");
        let spam: &[&str] = if examples_first {
            &["buy"]
        } else {
            &["buy", "free"]
        };
        let profanity: &[&str] = if prose { &["damn", "gosh"] } else { &["damn"] };
        FakeReply::completion(&keyword_answer(
            &[("spam", spam), ("profanity", profanity)],
            &r.text,
        ))
    })
    .unwrap();
    let p = policy();
    let formats = PromptFormat::variants(4);
    let mut l = Labeller::new(&p, Teacher::new(config(fake.url())).unwrap(), None);
    let mut calls = 0;
    let labels = l
        .label_all(&formats, &texts(), &mut |done, total| {
            calls += 1;
            assert_eq!((done, total), (calls, 20));
        })
        .unwrap();
    assert_eq!(fake.requests(), 20);
    let rates = flip_rates(&labels, 2);
    // spam: "oh gosh, free damn stuff" flips (only "free"); "Buy cheap watches, free" does not.
    assert_eq!((rates[0].flipped, rates[0].texts), (1, 5));
    // profanity: both "gosh" texts without "damn": one ("gosh that was close").
    assert_eq!(rates[1].flipped, 1);
    assert_eq!((rates[1].positives_min, rates[1].positives_max), (2, 3));
    assert!((rates[0].rate() - 0.2).abs() < 1e-12);
    assert_eq!(flip_rates(&labels[..1], 2)[1].flipped, 0);
}

#[test]
fn the_rate_limit_spaces_requests() {
    let fake =
        FakeTeacher::start(|r| FakeReply::completion(&keyword_answer(RULES, &r.text))).unwrap();
    let p = policy();
    let mut c = config(fake.url());
    c.rate = Some(20.0);
    let mut l = Labeller::new(&p, Teacher::new(c).unwrap(), None);
    let start = std::time::Instant::now();
    l.label_all(&[PromptFormat::CANONICAL], &texts(), &mut |_, _| {})
        .unwrap();
    // Five requests at 20 per second: at least four gaps of 50 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn errors_name_the_row_and_the_format() {
    let fake = FakeTeacher::start(|r| {
        if r.text.contains("club") {
            FakeReply::error(400, "context too long")
        } else {
            FakeReply::completion(&keyword_answer(RULES, &r.text))
        }
    })
    .unwrap();
    let p = policy();
    let mut l = Labeller::new(&p, Teacher::new(config(fake.url())).unwrap(), None);
    let e = l
        .label_all(&[PromptFormat::CANONICAL], &texts(), &mut |_, _| {})
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("input row 3 (prompt format bullets."),
        "{text}"
    );
    assert!(
        text.contains("HTTP 400") && text.contains("context too long"),
        "{text}"
    );
}

#[test]
fn provenance_sidecar_round_trips() {
    let p = LabelProvenance {
        template_version: TEMPLATE_VERSION.into(),
        format: PromptFormat::CANONICAL.name(),
        teacher_model: "m".into(),
        teacher_url: "http://127.0.0.1:1/v1/chat/completions".into(),
        policy_id: "t".into(),
        policy_version: "1".into(),
        policy_hash: "ab".into(),
        rows: 3,
        variants: 1,
        flip_rates: Default::default(),
    };
    let back: LabelProvenance = serde_json::from_str(&p.to_json()).unwrap();
    assert_eq!(back, p);
    assert_eq!(
        LabelProvenance::path_for(Path::new("out/l.csv")),
        Path::new("out/l.csv.teacher.json")
    );
}
