//! The sync core of the manifests source: the objects each file defines, which definition is in
//! force, and the [`Change`]s a reload makes. The async shell only reads files and calls this.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sesame_dag::collections::{VecSet, pack};
use sesame_dag::object::{Object, ObjectKey};
use sesame_dag::snapshot::Change;
use tracing::{error, info, warn};

use super::parse::{Format, ParseError, parse};

/// A file, ordered as precedence goes: by the position of its directory on the command line,
/// then by file name. When two files define the same object, the greater one wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FileId {
    dir: usize,
    /// Shared by every object of the file that names it.
    name: Arc<OsStr>,
}

/// The objects in force before a batch of reloads, for every key the batch touched.
#[derive(Default)]
struct Batch {
    before: BTreeMap<ObjectKey, Option<Object>>,
}

/// Every object the watched directories define, file by file.
#[derive(Debug, Default)]
pub struct ManifestState {
    dirs: Vec<PathBuf>,
    files: BTreeMap<FileId, BTreeMap<ObjectKey, Object>>,
    /// The files that define each object, in precedence order (nearly always one: a
    /// [`VecSet`]).
    owners: BTreeMap<ObjectKey, VecSet<FileId>>,
    errors: BTreeMap<FileId, ParseError>,
}

impl ManifestState {
    /// An empty state for these directories, in precedence order (later wins). A directory
    /// given twice keeps its first position.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        ManifestState {
            dirs: unique,
            ..Self::default()
        }
    }

    /// Rebuilds the maps of every object from their sorted entries, with full B-tree nodes
    /// (a file's objects and the owners are inserted one key at a time, which leaves the
    /// nodes about half full). Worth calling once, after the initial load.
    pub fn pack(&mut self) {
        self.files.values_mut().for_each(pack);
        pack(&mut self.owners);
    }

    /// The directories, in precedence order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Re-reads one file: `contents` is its text, or `None` when it no longer exists. Returns
    /// the changes to the objects in force. Paths outside the directories, and names that are
    /// not manifests (hidden, editor temporaries, other extensions), are ignored.
    pub fn reload_file(&mut self, path: &Path, contents: Option<&str>) -> Vec<Change> {
        self.reload_files([(path.to_path_buf(), contents)])
    }

    /// Re-reads several files as one batch: the changes are the difference between the objects
    /// in force before and after the whole batch, one per object at most, sorted by key.
    pub fn reload_files<I, S>(&mut self, files: I) -> Vec<Change>
    where
        I: IntoIterator<Item = (PathBuf, Option<S>)>,
        S: AsRef<str>,
    {
        let mut batch = Batch::default();
        for (path, contents) in files {
            self.load(&mut batch, &path, contents.as_ref().map(AsRef::as_ref));
        }
        self.finish(batch)
    }

    /// The files of directory `dir` (an index into [`dirs`](Self::dirs)) that define objects or
    /// failed to parse: what a rescan must look at besides the files listed now.
    pub fn known_files(&self, dir: usize) -> Vec<PathBuf> {
        let files: BTreeSet<&FileId> = self.files.keys().chain(self.errors.keys()).collect();
        files
            .into_iter()
            .filter(|id| id.dir == dir)
            .map(|id| self.path(id))
            .collect()
    }

    /// The objects in force, sorted by key.
    pub fn objects(&self) -> Vec<Object> {
        self.owners
            .keys()
            .filter_map(|key| self.in_force(key))
            .cloned()
            .collect()
    }

    /// The files that failed to parse at their last reload, with the reason. Their previous
    /// objects stay in force.
    pub fn errors(&self) -> Vec<(PathBuf, &ParseError)> {
        self.errors
            .iter()
            .map(|(id, e)| (self.path(id), e))
            .collect()
    }

    fn load(&mut self, batch: &mut Batch, path: &Path, contents: Option<&str>) {
        let Some((id, format)) = self.file_id(path) else {
            return;
        };
        let Some(text) = contents else {
            self.errors.remove(&id);
            self.set_file(batch, id, BTreeMap::new());
            return;
        };
        match parse(text, format) {
            Ok(parsed) => {
                for skipped in &parsed.skipped {
                    info!(
                        file = %path.display(),
                        api_version = %skipped.api_version,
                        kind = %skipped.kind,
                        name = %skipped.name,
                        "skipping object of a kind sesame does not read",
                    );
                }
                for key in &parsed.duplicates {
                    warn!(file = %path.display(), object = %key, "object defined twice in one file; the later definition wins");
                }
                self.errors.remove(&id);
                self.set_file(batch, id, parsed.objects);
            }
            Err(err) => {
                error!(
                    file = %path.display(),
                    line = err.line(),
                    error = %err,
                    "cannot parse manifest file; its previous objects stay in force",
                );
                self.errors.insert(id, err);
            }
        }
    }

    /// Replaces the objects of one file, remembering what was in force before.
    fn set_file(&mut self, batch: &mut Batch, id: FileId, objects: BTreeMap<ObjectKey, Object>) {
        let old_keys = self.files.get(&id).into_iter().flat_map(BTreeMap::keys);
        for key in old_keys.chain(objects.keys()) {
            if !batch.before.contains_key(key) {
                batch
                    .before
                    .insert(key.clone(), self.in_force(key).cloned());
            }
        }
        let old = self.files.remove(&id).unwrap_or_default();
        for key in old.keys().filter(|k| !objects.contains_key(*k)) {
            if let Some(owners) = self.owners.get_mut(key) {
                owners.remove(&id);
                if owners.is_empty() {
                    self.owners.remove(key);
                }
            }
        }
        for key in objects.keys().filter(|k| !old.contains_key(*k)) {
            let owners = self.owners.entry(key.clone()).or_default();
            owners.insert(id.clone());
            if owners.len() > 1 {
                let files: Vec<String> = owners
                    .iter()
                    .map(|o| self.dirs[o.dir].join(&*o.name).display().to_string())
                    .collect();
                warn!(object = %key, files = ?files, "object defined in several files; the last file listed wins");
            }
        }
        if !objects.is_empty() {
            self.files.insert(id, objects);
        }
    }

    /// The changes between what was in force before the batch and what is now.
    fn finish(&self, batch: Batch) -> Vec<Change> {
        let mut changes = Vec::new();
        for (key, before) in batch.before {
            match (before, self.in_force(&key)) {
                (None, Some(now)) => changes.push(Change::Apply(now.clone())),
                (Some(before), Some(now)) if before != *now => {
                    changes.push(Change::Apply(now.clone()))
                }
                (Some(_), None) => changes.push(Change::Delete(key)),
                _ => {}
            }
        }
        changes
    }

    /// The definition in force for `key`: the one in the last file that defines it.
    fn in_force(&self, key: &ObjectKey) -> Option<&Object> {
        let owner = self.owners.get(key)?.last()?;
        self.files.get(owner)?.get(key)
    }

    fn file_id(&self, path: &Path) -> Option<(FileId, Format)> {
        let name = path.file_name()?;
        let format = manifest_format(name)?;
        let dir = self
            .dirs
            .iter()
            .position(|d| Some(d.as_path()) == path.parent())?;
        Some((
            FileId {
                dir,
                name: Arc::from(name),
            },
            format,
        ))
    }

    fn path(&self, id: &FileId) -> PathBuf {
        self.dirs[id.dir].join(&*id.name)
    }
}

/// The format of a directory entry that is a manifest: `*.yaml`, `*.yml` or `*.json`, not
/// hidden (which also skips Kubernetes' `..data` volume entries and Emacs' `.#` locks), not an
/// editor temporary (`#foo#`, `foo~`). Names that are not UTF-8 are not manifests.
pub fn manifest_format(name: &OsStr) -> Option<Format> {
    let name = name.to_str()?;
    if name.starts_with('.') || name.starts_with('#') || name.ends_with('~') {
        return None;
    }
    match name.rsplit_once('.')?.1 {
        "yaml" | "yml" => Some(Format::Yaml),
        "json" => Some(Format::Json),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
