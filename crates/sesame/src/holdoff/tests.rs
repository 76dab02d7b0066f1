use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn first_change_builds_at_once() {
    let now = Instant::now();
    let mut h = Holdoff::new(ms(100), ms(500));
    h.on_change(now);
    assert_eq!(h.deadline(), Some(now));
}

#[test]
fn isolated_change_after_quiet_period_builds_at_once() {
    let t0 = Instant::now();
    let mut h = Holdoff::new(ms(100), ms(500));
    h.built(t0);
    h.on_change(t0 + ms(600));
    assert_eq!(h.deadline(), Some(t0 + ms(600)));
}

#[test]
fn change_soon_after_a_build_waits_the_holdoff() {
    let t0 = Instant::now();
    let mut h = Holdoff::new(ms(100), ms(500));
    h.built(t0);
    h.on_change(t0 + ms(50));
    assert_eq!(h.deadline(), Some(t0 + ms(150)));
}

#[test]
fn burst_extends_the_holdoff_but_never_past_the_maximum() {
    let t0 = Instant::now();
    let mut h = Holdoff::new(ms(100), ms(500));
    h.built(t0);
    for step in 1..=16 {
        h.on_change(t0 + ms(step * 30));
        assert!(h.deadline().unwrap() <= t0 + ms(500), "step {step}");
    }
    assert_eq!(h.deadline(), Some(t0 + ms(500)));
}

#[test]
fn building_clears_the_deadline() {
    let t0 = Instant::now();
    let mut h = Holdoff::new(ms(100), ms(500));
    h.on_change(t0);
    h.built(t0);
    assert_eq!(h.deadline(), None);
}
