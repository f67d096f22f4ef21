use super::*;

fn invokers(n: usize) -> Vec<Invoker> {
    (0..n)
        .map(|i| Invoker::new(format!("invoker-{i}"), 4096))
        .collect()
}

fn request(name: &str) -> Request {
    Request::new(
        &format!("/guest/{name}"),
        &format!("/guest/{name}@0.0.1#1"),
        256,
    )
}

fn id(invokers: &[Invoker], placement: Placement) -> &str {
    invokers[placement.index].id()
}

/// The id of the invoker at `rank` in the request's order.
fn at_rank<'a>(invokers: &'a [Invoker], request: &Request, rank: usize) -> &'a str {
    invokers[order(request, invokers)[rank]].id()
}

fn homes(names: &[String], invokers: &[Invoker]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            invokers[home(&request(n), invokers).unwrap()]
                .id()
                .to_owned()
        })
        .collect()
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("action-{i}")).collect()
}

/// Controllers of different builds must agree: these values must never change.
#[test]
fn the_hash_is_pinned() {
    assert_eq!(key(""), 0xf52a_15e9_a9b5_e89b);
    assert_eq!(key("/guest/hello"), 0x1223_1d2d_7ff4_d64e);
    assert_eq!(file_key("guest", "models/tiny.bin"), 0x3fa5_3de4_631e_9fab);
    assert_eq!(hash::score(1, 2), 0x1e53_5eed_e314_28f0);
}

#[test]
fn the_same_inputs_give_the_same_invoker_in_any_order() {
    let mut view = invokers(10);
    for (i, invoker) in view.iter_mut().enumerate() {
        invoker.used_mb = (i as u64 * 397) % 3000;
    }
    for name in names(200) {
        let request = request(&name);
        let first = place(&request, &view).unwrap();
        assert_eq!(place(&request, &view).unwrap(), first);
        let mut reversed = view.clone();
        reversed.reverse();
        let mut rotated = view.clone();
        rotated.rotate_left(3);
        for other in [reversed, rotated] {
            let again = place(&request, &other).unwrap();
            assert_eq!(id(&other, again), id(&view, first));
            assert_eq!((again.rank, again.reason), (first.rank, first.reason));
        }
    }
}

#[test]
fn homes_spread_evenly() {
    let view = invokers(10);
    let homes = homes(&names(2000), &view);
    for invoker in &view {
        let count = homes.iter().filter(|h| *h == invoker.id()).count();
        assert!((120..=280).contains(&count), "{}: {count}", invoker.id());
    }
}

#[test]
fn a_joining_invoker_takes_about_one_in_n_homes_and_only_those_move() {
    let names = names(2000);
    let before = homes(&names, &invokers(10));
    let after = homes(&names, &invokers(11));
    let moved: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert!(moved.iter().all(|(_, a)| *a == "invoker-10"));
    // 1/11 is 182 of 2000.
    assert!((90..=300).contains(&moved.len()), "{} moved", moved.len());
}

#[test]
fn a_leaving_invoker_moves_only_its_own_homes() {
    let names = names(2000);
    let all = invokers(10);
    let before = homes(&names, &all);
    let without: Vec<Invoker> = all
        .iter()
        .filter(|i| i.id() != "invoker-4")
        .cloned()
        .collect();
    let after = homes(&names, &without);
    let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    let homed_there = before.iter().filter(|h| *h == "invoker-4").count();
    assert_eq!(moved, homed_there);
    assert!((100..=300).contains(&moved), "{moved} moved");
}

#[test]
fn an_idle_cluster_places_on_the_home() {
    let view = invokers(10);
    let request = request("hello");
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (0, Reason::Order));
    assert_eq!(id(&view, placement), at_rank(&view, &request, 0));
}

#[test]
fn a_warm_instance_wins_over_the_home() {
    let mut view = invokers(10);
    let request = request("hello");
    let later = order(&request, &view)[6];
    view[later].warm.add(request.revision_key());
    // Another revision's instance on an earlier invoker does not count.
    let earlier = order(&request, &view)[2];
    view[earlier].warm.add(key("/guest/hello@0.0.1#0"));
    let placement = place(&request, &view).unwrap();
    assert_eq!(
        (placement.index, placement.rank, placement.reason),
        (later, 6, Reason::Warm)
    );
}

#[test]
fn the_earliest_warm_invoker_in_the_order_wins() {
    let mut view = invokers(10);
    let request = request("hello");
    let ranks = order(&request, &view);
    for rank in [7, 3, 5] {
        view[ranks[rank]].warm.add(request.revision_key());
    }
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (3, Reason::Warm));
}

#[test]
fn a_warm_instance_on_a_hot_or_full_invoker_is_passed_over() {
    let mut view = invokers(10);
    let request = request("hello");
    let ranks = order(&request, &view);
    let warm = ranks[4];
    view[warm].warm.add(request.revision_key());
    // Hot: past the floor and far past the mean.
    view[warm].used_mb = 3500;
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (0, Reason::Order));
    // Full.
    view[warm].used_mb = 4000;
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (0, Reason::Order));
}

#[test]
fn cached_files_win_over_the_home_and_more_files_over_fewer() {
    let mut view = invokers(10);
    let request = request("model").with_files("guest", ["a.bin", "b.bin"]);
    let ranks = order(&request, &view);
    view[ranks[8]].files = [file_key("guest", "a.bin"), file_key("guest", "b.bin")]
        .into_iter()
        .collect();
    view[ranks[2]].files.add(file_key("guest", "b.bin"));
    // The same name in another namespace is another file.
    view[ranks[1]].files.add(file_key("other", "a.bin"));
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (8, Reason::Files));

    view[ranks[8]].used_mb = 4000;
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (2, Reason::Files));
}

#[test]
fn cached_files_tolerate_more_load_than_a_warm_instance() {
    let mut view = invokers(10);
    for invoker in &mut view {
        invoker.used_mb = 2400;
    }
    let request = request("model").with_files("guest", ["a.bin"]);
    let holder = order(&request, &view)[3];
    view[holder].used_mb = 3300;
    view[holder].files.add(file_key("guest", "a.bin"));
    view[holder].warm.add(request.revision_key());
    // Hot for its warm instance (past 1.25 times the mean), not for its files (1.5 times).
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (3, Reason::Files));
    view[holder].used_mb = 3700;
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (0, Reason::Order));
}

#[test]
fn warm_wins_over_files() {
    let mut view = invokers(10);
    let request = request("model").with_files("guest", ["a.bin"]);
    let ranks = order(&request, &view);
    view[ranks[1]].files.add(file_key("guest", "a.bin"));
    view[ranks[5]].warm.add(request.revision_key());
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (5, Reason::Warm));
}

#[test]
fn a_hot_home_sends_work_down_the_order() {
    let mut view = invokers(10);
    let request = request("hello");
    let ranks = order(&request, &view);
    // Below the floor a busy home is still the home.
    view[ranks[0]].used_mb = 1700;
    assert_eq!(place(&request, &view).unwrap().rank, 0);
    // Past it, and past 1.25 times the mean, it is hot; so is the next.
    view[ranks[0]].used_mb = 3000;
    view[ranks[1]].used_mb = 2900;
    let placement = place(&request, &view).unwrap();
    assert_eq!((placement.rank, placement.reason), (2, Reason::Order));
    // When the whole cluster is that busy, nobody is hot.
    for invoker in &mut view {
        invoker.used_mb = invoker.used_mb.max(2800);
    }
    assert_eq!(place(&request, &view).unwrap().rank, 0);
}

#[test]
fn when_all_with_room_are_hot_the_least_loaded_of_them_wins() {
    // Only two invokers fit a 1 GB activation, and both would be nearly full after it: the
    // lighter afterwards wins, whatever the order.
    let mut view: Vec<Invoker> = (0..8)
        .map(|i| Invoker::new(format!("small-{i}"), 512))
        .collect();
    view.push(Invoker::new("a", 1024));
    view.push(Invoker::new("b", 1280));
    view[9].used_mb = 128;
    let request = Request::new("/guest/big", "/guest/big@0.0.1#1", 1024);
    let placement = place(&request, &view).unwrap();
    assert_eq!(
        (id(&view, placement), placement.reason),
        ("b", Reason::LeastLoaded)
    );
}

#[test]
fn with_no_room_anywhere_the_least_loaded_is_the_fallback() {
    let mut view = invokers(5);
    for (i, invoker) in view.iter_mut().enumerate() {
        invoker.used_mb = 4000 - i as u64 * 10;
    }
    let placement = place(&request("hello"), &view).unwrap();
    assert_eq!(placement.reason, Reason::Overloaded);
    assert_eq!(id(&view, placement), "invoker-4");
}

#[test]
fn invokers_offering_nothing_never_panic() {
    let view = vec![Invoker::new("a", 0), Invoker::new("b", 0)];
    let placement = place(&request("hello"), &view).unwrap();
    assert_eq!(placement.reason, Reason::Overloaded);
}

#[test]
fn no_live_invokers_is_an_error() {
    assert_eq!(place(&request("hello"), &[]), Err(NoInvokers));
}

#[test]
fn placed_takes_memory_and_one_warm_instance() {
    let request = request("hello");
    let mut invoker = Invoker::new("a", 1024);
    invoker.warm.add(request.revision_key());
    invoker.warm.add(request.revision_key());
    invoker.placed(&request);
    assert_eq!(invoker.used_mb, 256);
    assert_eq!(invoker.warm.count(request.revision_key()), 1);
    invoker.placed(&request);
    invoker.placed(&request);
    assert!(!invoker.warm.contains(request.revision_key()));
    assert_eq!(invoker.used_mb, 768);
}

#[test]
fn a_new_revision_keeps_its_home() {
    let view = invokers(10);
    let old = Request::new("/guest/hello", "/guest/hello@0.0.1#1", 256);
    let new = Request::new("/guest/hello", "/guest/hello@0.0.2#2", 256);
    assert_eq!(home(&old, &view), home(&new, &view));
}
