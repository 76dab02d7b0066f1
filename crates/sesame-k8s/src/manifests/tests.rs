//! The async shell against a real directory and the real file watcher.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use pretty_assertions::assert_eq;
use sesame_dag::object::{Object, ObjectKey};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};

use super::*;
use crate::testutil::port_suffix;

/// How long to wait for an expected event: generous, these are behaviour checks.
const WAIT: Duration = Duration::from_secs(10);

fn service_yaml(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: {port}}}]}}\n"
    )
}

/// The objects a receiver would hold, built from what the source sent.
struct Model {
    rx: mpsc::Receiver<SourceEvent>,
    objects: BTreeMap<ObjectKey, Object>,
    task: JoinHandle<Result<(), Error>>,
}

impl Model {
    /// Starts the source on `dirs` and checks the start protocol: one batch, then `Synced`.
    async fn start(dirs: &[&Path]) -> Model {
        let (tx, rx) = mpsc::channel(16);
        let dirs = dirs.iter().map(|d| d.to_path_buf()).collect();
        let task = tokio::spawn(run(dirs, tx));
        let mut model = Model {
            rx,
            objects: BTreeMap::new(),
            task,
        };
        match model.next().await {
            SourceEvent::Changes(changes) => model.apply(changes),
            SourceEvent::Synced => panic!("Synced before the initial batch"),
        }
        assert_eq!(model.next().await, SourceEvent::Synced);
        model
    }

    async fn next(&mut self) -> SourceEvent {
        timeout(WAIT, self.rx.recv())
            .await
            .expect("timed out")
            .expect("source stopped")
    }

    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Apply(object) => self.objects.insert(object.key(), object),
                Change::Delete(key) => self.objects.remove(&key),
            };
        }
    }

    /// Applies batches until the objects, as `Service ns/name:port` lines, are `expected`.
    async fn wait_for(&mut self, expected: &[&str]) {
        let deadline = Instant::now() + WAIT;
        while self.summary() != expected {
            match timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(SourceEvent::Changes(changes))) => self.apply(changes),
                Ok(Some(SourceEvent::Synced)) => panic!("Synced sent twice"),
                Ok(None) => panic!("source stopped: {:?}", (&mut self.task).await),
                Err(_) => panic!(
                    "timed out waiting for {expected:?}; have {:?}",
                    self.summary()
                ),
            }
        }
    }

    fn summary(&self) -> Vec<String> {
        self.objects
            .values()
            .map(|o| format!("{}{}", o.key(), port_suffix(o)))
            .collect()
    }
}

#[tokio::test]
async fn initial_batch_then_synced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(
        d.join("a.yaml"),
        format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 80)),
    )
    .expect("write");
    fs::write(
        d.join("c.json"),
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"c"}}"#,
    )
    .expect("write");
    fs::write(
        d.join("d.yml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    )
    .expect("write");
    fs::write(d.join(".hidden.yaml"), service_yaml("hidden", 80)).expect("write");
    fs::write(d.join("notes.txt"), service_yaml("txt", 80)).expect("write");
    fs::write(d.join("broken.yaml"), "a: [\n").expect("write");
    fs::create_dir(d.join("sub")).expect("mkdir");
    fs::write(d.join("sub/e.yaml"), service_yaml("nested", 80)).expect("write");

    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(run(vec![d.to_path_buf()], tx));
    let first = timeout(WAIT, rx.recv())
        .await
        .expect("timed out")
        .expect("stopped");
    let SourceEvent::Changes(changes) = first else {
        panic!("expected changes, got {first:?}")
    };
    let keys: Vec<String> = changes
        .iter()
        .map(|c| format!("{:?} {}", std::mem::discriminant(c), c.key()))
        .collect();
    assert_eq!(changes.len(), 3, "{keys:?}");
    assert!(changes.iter().all(|c| matches!(c, Change::Apply(_))));
    let keys: Vec<String> = changes.iter().map(|c| c.key().to_string()).collect();
    assert_eq!(
        keys,
        vec![
            "Service default/a",
            "Service default/b",
            "Service default/c"
        ]
    );
    let second = timeout(WAIT, rx.recv())
        .await
        .expect("timed out")
        .expect("stopped");
    assert_eq!(second, SourceEvent::Synced);

    // Dropping the receiver stops the source cleanly.
    drop(rx);
    let result = timeout(WAIT, task)
        .await
        .expect("source did not stop")
        .expect("task panicked");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let (tx, _rx) = mpsc::channel(16);
    let err = timeout(
        WAIT,
        run(vec![dir.path().to_path_buf(), missing.clone()], tx),
    )
    .await
    .expect("timed out")
    .expect_err("a missing directory must fail");
    assert!(
        matches!(&err, Error::Dir { path, .. } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("nope"), "{err}");

    let file = dir.path().join("file.yaml");
    fs::write(&file, "").expect("write");
    let (tx, _rx) = mpsc::channel(16);
    let err = run(vec![file], tx)
        .await
        .expect_err("a file is not a directory");
    assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
}

#[tokio::test]
async fn create_modify_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut model = Model::start(&[dir.path()]).await;
    assert!(model.objects.is_empty());
    let path = dir.path().join("svc.yaml");

    fs::write(
        &path,
        format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 80)),
    )
    .expect("write");
    model
        .wait_for(&["Service default/a:80", "Service default/b:80"])
        .await;

    fs::write(
        &path,
        format!("{}---\n{}", service_yaml("a", 81), service_yaml("c", 80)),
    )
    .expect("write");
    model
        .wait_for(&["Service default/a:81", "Service default/c:80"])
        .await;

    fs::remove_file(&path).expect("remove");
    model.wait_for(&[]).await;
}

#[tokio::test]
async fn modify_sends_only_the_changed_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("svc.yaml");
    fs::write(
        &path,
        format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 80)),
    )
    .expect("write");
    let mut model = Model::start(&[dir.path()]).await;

    // Written atomically so that no half-written state is ever read.
    let tmp = dir.path().join(".svc.yaml.tmp");
    fs::write(
        &tmp,
        format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 90)),
    )
    .expect("write");
    fs::rename(&tmp, &path).expect("rename");
    let SourceEvent::Changes(changes) = model.next().await else {
        panic!("expected changes")
    };
    let keys: Vec<String> = changes.iter().map(|c| c.key().to_string()).collect();
    assert_eq!(keys, vec!["Service default/b"]);
}

#[tokio::test]
async fn atomic_rename_over_the_target_and_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("svc.yaml");
    fs::write(&path, service_yaml("a", 80)).expect("write");
    let mut model = Model::start(&[dir.path()]).await;
    assert_eq!(model.summary(), vec!["Service default/a:80"]);

    // As kubectl edit, vim or a config-management tool: write a temporary name, rename over.
    for (tmp, port) in [
        (".svc.yaml.swp", 81),
        ("svc.yaml.tmp-1234", 82),
        ("svc.yaml~", 83),
    ] {
        let tmp = dir.path().join(tmp);
        fs::write(&tmp, service_yaml("a", port)).expect("write");
        fs::rename(&tmp, &path).expect("rename");
        let want = format!("Service default/a:{port}");
        model.wait_for(&[want.as_str()]).await;
    }

    // A file renamed in from elsewhere is created; renamed away (to a non-manifest) is deleted.
    let outside = tempfile::tempdir().expect("tempdir");
    let incoming = outside.path().join("in.yaml");
    fs::write(&incoming, service_yaml("b", 80)).expect("write");
    fs::rename(&incoming, dir.path().join("b.yaml")).expect("rename in");
    model
        .wait_for(&["Service default/a:83", "Service default/b:80"])
        .await;
    fs::rename(&path, dir.path().join("svc.yaml.disabled")).expect("rename away");
    model.wait_for(&["Service default/b:80"]).await;
}

#[tokio::test]
async fn broken_file_keeps_its_previous_objects_until_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("svc.yaml");
    fs::write(
        &path,
        format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 80)),
    )
    .expect("write");
    let mut model = Model::start(&[dir.path()]).await;

    fs::write(&path, format!("{}---\nkind: [\n", service_yaml("a", 99))).expect("write");
    // A marker written after the breakage: once it arrives, the broken write has been handled.
    fs::write(dir.path().join("marker.yaml"), service_yaml("marker", 1)).expect("write");
    model
        .wait_for(&[
            "Service default/a:80",
            "Service default/b:80",
            "Service default/marker:1",
        ])
        .await;

    fs::write(
        &path,
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: nope}]}\n",
    )
    .expect("write");
    fs::remove_file(dir.path().join("marker.yaml")).expect("remove");
    model
        .wait_for(&["Service default/a:80", "Service default/b:80"])
        .await;

    fs::write(&path, service_yaml("a", 81)).expect("write");
    model.wait_for(&["Service default/a:81"]).await;
}

#[tokio::test]
async fn later_directory_wins_and_deleting_it_falls_back() {
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    fs::write(first.path().join("z.yaml"), service_yaml("s", 1)).expect("write");
    fs::write(second.path().join("a.yaml"), service_yaml("s", 2)).expect("write");
    let mut model = Model::start(&[first.path(), second.path()]).await;
    assert_eq!(model.summary(), vec!["Service default/s:2"]);

    fs::remove_file(second.path().join("a.yaml")).expect("remove");
    model.wait_for(&["Service default/s:1"]).await;
}

/// Kubernetes ConfigMap and Secret volumes: `name -> ..data/name`, and an update swaps the
/// `..data` symlink to a new hidden directory. No event names `svc.yaml` itself.
#[cfg(unix)]
#[tokio::test]
async fn kubernetes_volume_data_swap() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::create_dir(d.join("..v1")).expect("mkdir");
    fs::write(d.join("..v1/svc.yaml"), service_yaml("a", 80)).expect("write");
    symlink("..v1", d.join("..data")).expect("symlink");
    symlink("..data/svc.yaml", d.join("svc.yaml")).expect("symlink");
    let mut model = Model::start(&[d]).await;
    assert_eq!(model.summary(), vec!["Service default/a:80"]);

    fs::create_dir(d.join("..v2")).expect("mkdir");
    fs::write(d.join("..v2/svc.yaml"), service_yaml("a", 81)).expect("write");
    symlink("..v2", d.join("..data_tmp")).expect("symlink");
    fs::rename(d.join("..data_tmp"), d.join("..data")).expect("swap");
    fs::remove_dir_all(d.join("..v1")).expect("cleanup");
    model.wait_for(&["Service default/a:81"]).await;
}

#[tokio::test]
async fn a_file_still_being_written_is_not_read_until_it_is_closed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svc.yaml");
    fs::write(
        &path,
        format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 81)),
    )
    .unwrap();
    let mut model = Model::start(&[dir.path()]).await;
    assert_eq!(
        model.summary(),
        vec!["Service default/a:80", "Service default/b:81"]
    );

    // An editor rewrites the file in place: truncate, write the first half, pause.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(service_yaml("a", 90).as_bytes()).unwrap();
    file.flush().unwrap();
    // Reading now would see `b` gone. Nothing may be sent while the file is open.
    let early = timeout(Duration::from_millis(300), model.rx.recv()).await;
    assert!(early.is_err(), "read a half-written file: {early:?}");

    file.write_all(format!("---\n{}", service_yaml("b", 91)).as_bytes())
        .unwrap();
    drop(file);
    model
        .wait_for(&["Service default/a:90", "Service default/b:91"])
        .await;
}

/// A notify event of `kind` on `path`.
fn event(kind: EventKind, path: &str) -> notify::Result<Event> {
    Ok(Event::new(kind).add_path(PathBuf::from(path)))
}

#[tokio::test]
async fn a_burst_gathers_what_arrives_together_and_waits_for_open_files() {
    use notify::event::RenameMode;
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Both halves of a rename and another file's write, reported together.
    tx.send(event(
        EventKind::Modify(ModifyKind::Name(RenameMode::From)),
        "/m/a.yaml",
    ))
    .unwrap();
    tx.send(event(
        EventKind::Modify(ModifyKind::Name(RenameMode::To)),
        "/m/b.yaml",
    ))
    .unwrap();
    tx.send(event(EventKind::Create(CreateKind::File), "/m/c.yaml"))
        .unwrap();
    tx.send(event(
        EventKind::Access(AccessKind::Close(AccessMode::Write)),
        "/m/c.yaml",
    ))
    .unwrap();
    let burst = next_burst(&mut rx).await.expect("a burst");
    let paths: Vec<_> = burst
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(paths, ["/m/a.yaml", "/m/b.yaml", "/m/c.yaml"]);
    assert!(burst.settled());

    // A file still open for writing holds the burst past the quiet period until it is closed.
    tx.send(event(EventKind::Create(CreateKind::File), "/m/d.yaml"))
        .unwrap();
    let closer = tx.clone();
    let close = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        closer
            .send(event(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/m/d.yaml",
            ))
            .unwrap();
    });
    let started = Instant::now();
    let burst = next_burst(&mut rx).await.expect("a burst");
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(burst.settled(), "returned before the file was closed");
    close.await.unwrap();

    // The watcher gone: no burst.
    drop(tx);
    assert!(next_burst(&mut rx).await.is_none());
}
