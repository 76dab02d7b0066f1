use pretty_assertions::assert_eq;

use super::*;

fn n(name: &str) -> NamespacedName {
    NamespacedName::new("ns", name)
}

fn listed(state: &mut StreamState<u32>, objects: &[(&str, u32)]) -> Vec<Update<u32>> {
    assert!(state.on_event(Event::Init).is_empty());
    for (name, v) in objects {
        assert!(
            state.on_event(Event::InitApply((n(name), *v))).is_empty(),
            "a relist is held back until it is complete"
        );
    }
    state.on_event(Event::InitDone)
}

#[test]
fn the_first_list_is_sent_in_one_batch() {
    let mut state = StreamState::default();
    assert!(!state.synced());
    let updates = listed(&mut state, &[("a", 1), ("b", 2)]);
    assert_eq!(
        updates,
        vec![Update::Apply(n("a"), 1), Update::Apply(n("b"), 2)]
    );
    assert!(state.synced());
}

#[test]
fn a_relist_deletes_what_it_no_longer_holds_in_the_same_batch() {
    let mut state = StreamState::default();
    listed(&mut state, &[("a", 1), ("b", 2)]);
    state.on_event(Event::Apply((n("c"), 3)));
    let updates = listed(&mut state, &[("b", 5)]);
    assert_eq!(
        updates,
        vec![
            Update::Delete(n("a")),
            Update::Delete(n("c")),
            Update::Apply(n("b"), 5),
        ]
    );
}

#[test]
fn live_events_pass_straight_through() {
    let mut state = StreamState::default();
    listed(&mut state, &[]);
    assert_eq!(
        state.on_event(Event::Apply((n("a"), 1))),
        vec![Update::Apply(n("a"), 1)]
    );
    assert_eq!(
        state.on_event(Event::Delete((n("a"), 1))),
        vec![Update::Delete(n("a"))]
    );
    assert_eq!(
        listed(&mut state, &[]),
        vec![],
        "a deleted object is not deleted again by a relist"
    );
}
