//! Declared state around one run, as an [`Invoke`] in front of the runtimes: the pre-phase
//! loads the keys and files the action declares (`wisp_core::declared_state`) into the event's
//! `__state`; the post-phase takes the `__state` the function returned out of its result and
//! writes the declared keys back in one atomic, optimistic step (`StateBackend::commit`). A
//! conflict is retried by running again on fresh values, or reported, as the action declares.
//! `docs/STATE.md` describes the model.
//!
//! It sits on the invoker's side of the seam, not in the controller: the host that runs an
//! activation keeps the copies of its declared files and takes turns on its keys, which is
//! what a cluster must place work near.

mod files;
mod locks;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};
use wisp_core::declared_state::{
    self as declared, DeclError, OnConflict, ResolvedState, StateDecl,
};
use wisp_core::invoke::{
    CodeError, Invoke, InvokeError, PoolSnapshot, RunOutcome, RunRequest, StartKind,
};
use wisp_core::{Action, ActivationResponse, BoxFuture, Outcome};

use files::FileCache;
use locks::KeyLocks;

/// Attempts of an activation whose write-back keeps conflicting, when it retries.
const MAX_ATTEMPTS: u32 = 5;

/// Where declared state lives: the namespace's key-value store and its data objects
/// (`wisp-services` implements it over the platform's stores).
pub trait StateBackend: Send + Sync {
    /// The string values of `keys` (`None`: absent), as one snapshot.
    fn load<'a>(
        &'a self,
        namespace: &'a str,
        keys: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, StateBackendError>>;

    /// Writes `write` (`None`: delete) only if every key of `expect` still holds the value
    /// given, atomically: `Ok(false)` when one changed, and then nothing is written.
    fn commit<'a>(
        &'a self,
        namespace: &'a str,
        expect: KeyValues,
        write: KeyValues,
    ) -> BoxFuture<'a, Result<bool, StateBackendError>>;

    /// The current version (ETag) of the namespace's data object `name`; `None` if absent.
    fn object_version<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StateBackendError>>;

    /// Writes the data object `name` to the new file `dest`; returns the version and size of
    /// what was written.
    fn download<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<(String, u64), StateBackendError>>;
}

/// Why a [`StateBackend`] could not read or write; the activation's record says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateBackendError {
    /// The key-value store refused or failed, in its words.
    #[error("{0}")]
    Keys(String),
    /// One declared key could not be read (it holds another type, say).
    #[error("the declared key '{key}': {message}")]
    Key { key: String, message: String },
    /// The data object could not be read, or went away while it was fetched.
    #[error("{0}")]
    Object(String),
    /// The host could not write its copy of a declared file (the server's log says where).
    #[error("the host cannot keep a copy of it ({0})")]
    LocalCopy(std::io::ErrorKind),
}

/// Where declared state lives: the backend keys and files are loaded from and written to, and
/// the host's copies of declared files.
pub struct DeclaredState {
    backend: Arc<dyn StateBackend>,
    files: FileCache,
}

impl DeclaredState {
    /// Prepares the cache of declared files in `config.file_cache_dir`, emptied: copies from
    /// an earlier run are not trusted.
    pub fn new(backend: Arc<dyn StateBackend>, config: StateConfig) -> std::io::Result<Self> {
        let files = FileCache::new(
            config.file_cache_dir,
            config.file_cache_bytes,
            config.files_seen_at,
        )?;
        Ok(DeclaredState { backend, files })
    }
}

/// Where the host keeps its copies of declared files, and how many bytes of them.
#[derive(Debug, Clone)]
pub struct StateConfig {
    pub file_cache_dir: PathBuf,
    pub file_cache_bytes: u64,
    /// Where functions see `file_cache_dir` (inside their sandboxes, a fixed path; without
    /// them, the directory itself): the paths they are handed start here.
    pub files_seen_at: PathBuf,
}

/// Keys with their values as stored (`None`: absent, or deleted).
pub type KeyValues = Vec<(String, Option<Vec<u8>>)>;

/// A declared file as a function gets it.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    pub path: PathBuf,
    /// The object's version (its ETag).
    pub version: String,
    /// Whether this call fetched it from the store (rather than finding it cached on the host).
    pub fetched: bool,
}

/// What the record notes of declared state: names and versions, never values.
#[derive(Default)]
struct Note {
    read: Vec<String>,
    written: Vec<String>,
    files: Map<String, Value>,
    fetched: Vec<String>,
    pre_ms: u64,
    post_ms: u64,
    attempts: u32,
}

impl Note {
    fn to_json(&self) -> Value {
        json!({
            "read": self.read,
            "written": self.written,
            "files": self.files,
            "fetched": self.fetched,
            "preTime": self.pre_ms,
            "postTime": self.post_ms,
            "attempts": self.attempts,
        })
    }
}

/// One attempt's loaded values, kept to check nothing changed at the write-back.
struct Loaded {
    keys: Map<String, Value>,
    raw: KeyValues,
    files: Map<String, Value>,
}

/// Runs activations on `runtimes`, each with the state its action declares.
pub struct StatefulInvoker {
    runtimes: Arc<dyn Invoke>,
    /// `None`: the server has no state store, and an action that declares state is refused.
    state: Option<DeclaredState>,
    key_locks: KeyLocks,
}

impl StatefulInvoker {
    pub fn new(runtimes: Arc<dyn Invoke>, state: Option<DeclaredState>) -> StatefulInvoker {
        StatefulInvoker {
            runtimes,
            state,
            key_locks: KeyLocks::default(),
        }
    }

    /// Runs `request` with the state its action declares, or plainly when it declares none;
    /// the outcome of a declaring action carries the record's `state` note.
    async fn run_with_state(&self, request: RunRequest) -> Result<RunOutcome, InvokeError> {
        let declared = StateDecl::of(request.action.annotations.get(declared::ANNOTATION));
        let resolved = match declared {
            Ok(None) => return self.runtimes.run(request).await,
            Ok(Some(decl)) => match request.args.as_object() {
                Some(args) => decl.resolve(args),
                None => Err(DeclError::Parameter(
                    "declared state needs the event to be an object".into(),
                )),
            },
            Err(e) => Err(e),
        };
        let mut note = Note::default();
        let mut outcome = match resolved {
            Ok(resolved) => self.run_declared(request, &resolved, &mut note).await?,
            Err(e) => refused(Outcome::ApplicationError, e.to_string()),
        };
        outcome.state = Some(note.to_json());
        Ok(outcome)
    }

    async fn run_declared(
        &self,
        request: RunRequest,
        resolved: &ResolvedState,
        note: &mut Note,
    ) -> Result<RunOutcome, InvokeError> {
        let Some(DeclaredState { backend, files }) = self.state.as_ref() else {
            let message = "This server has no state store, so actions cannot declare state.";
            return Ok(refused(Outcome::InternalError, message.into()));
        };
        let namespace = request.namespace.clone();
        let _held = self.key_locks.lock(&namespace, &resolved.write).await;
        note.read = resolved.loaded_keys().cloned().collect();
        loop {
            note.attempts += 1;
            let started = Instant::now();
            let loaded = match load(backend.as_ref(), files, &namespace, resolved, note).await {
                Ok(loaded) => loaded,
                Err(e) => return Ok(refused(Outcome::ApplicationError, e)),
            };
            note.pre_ms += started.elapsed().as_millis() as u64;
            let mut attempt = request.clone();
            if let Value::Object(args) = &mut attempt.args {
                let event = json!({"keys": loaded.keys, "files": loaded.files});
                args.insert(declared::FIELD.into(), event);
            }
            let mut run = self.runtimes.run(attempt).await?;
            if !run.response.outcome.is_success() {
                return Ok(run); // a failed activation writes nothing
            }
            let writes = match returned_writes(&mut run.response.result, resolved) {
                Ok(writes) => writes,
                Err(e) => {
                    run.response = ActivationResponse::failure(Outcome::DeveloperError, e);
                    return Ok(run);
                }
            };
            if writes.is_empty() {
                return Ok(run);
            }
            let started = Instant::now();
            let expect = loaded
                .raw
                .into_iter()
                .filter(|(k, _)| resolved.is_writable(k))
                .collect();
            let names: Vec<String> = writes.iter().map(|(k, _)| k.clone()).collect();
            let committed = backend.commit(&namespace, expect, writes).await;
            note.post_ms += started.elapsed().as_millis() as u64;
            match committed {
                Ok(true) => {
                    note.written = names;
                    return Ok(run);
                }
                Ok(false)
                    if resolved.on_conflict == OnConflict::Retry
                        && note.attempts < MAX_ATTEMPTS => {}
                Ok(false) => {
                    let message = format!(
                        "A declared key changed while the activation ran ({} attempts); \
                         nothing was written.",
                        note.attempts
                    );
                    run.response = ActivationResponse::failure(Outcome::ApplicationError, message);
                    return Ok(run);
                }
                Err(e) => {
                    let message = format!("The declared state was not written: {e}");
                    run.response = ActivationResponse::failure(Outcome::ApplicationError, message);
                    return Ok(run);
                }
            }
        }
    }
}

impl Invoke for StatefulInvoker {
    fn run(&self, request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>> {
        Box::pin(self.run_with_state(request))
    }

    fn prepare<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), CodeError>> {
        self.runtimes.prepare(action)
    }

    fn accepting(&self) -> bool {
        self.runtimes.accepting()
    }

    /// The runtimes' pools, with the declared files this host keeps copies of.
    fn pool(&self) -> PoolSnapshot {
        let mut pool = self.runtimes.pool();
        if let Some(state) = &self.state {
            pool.files = state.files.cached();
        }
        pool
    }

    fn shutdown(&self) {
        self.runtimes.shutdown()
    }
}

/// The pre-phase: every declared key's value and every declared file's local copy.
async fn load(
    backend: &dyn StateBackend,
    files: &FileCache,
    namespace: &str,
    resolved: &ResolvedState,
    note: &mut Note,
) -> Result<Loaded, String> {
    let keys: Vec<String> = resolved.loaded_keys().cloned().collect();
    let values = backend
        .load(namespace, keys.clone())
        .await
        .map_err(|e| e.to_string())?;
    let mut loaded = Loaded {
        keys: Map::new(),
        raw: Vec::with_capacity(keys.len()),
        files: Map::new(),
    };
    for (key, value) in keys.into_iter().zip(values) {
        let shown = value.as_deref().map_or(Value::Null, declared::decode_value);
        loaded.keys.insert(key.clone(), shown);
        loaded.raw.push((key, value));
    }
    for name in &resolved.files {
        let file = files
            .local(backend, namespace, name)
            .await
            .map_err(|e| format!("The declared file '{name}' cannot be read: {e}"))?;
        loaded
            .files
            .insert(name.clone(), Value::from(file.path.display().to_string()));
        note.files.insert(name.clone(), Value::from(file.version));
        if file.fetched && !note.fetched.contains(name) {
            note.fetched.push(name.clone());
        }
    }
    Ok(loaded)
}

/// Takes `__state` out of a successful result: the keys it writes, each declared writable.
fn returned_writes(result: &mut Value, resolved: &ResolvedState) -> Result<KeyValues, String> {
    let Some(returned) = result
        .as_object_mut()
        .and_then(|r| r.remove(declared::FIELD))
    else {
        return Ok(Vec::new());
    };
    let keys = match returned {
        Value::Object(mut fields) => match fields.remove("keys") {
            None => return Ok(Vec::new()),
            Some(Value::Object(keys)) => keys,
            Some(_) => return Err("'__state.keys' in the result must be an object".into()),
        },
        _ => return Err("'__state' in the result must be an object".into()),
    };
    keys.into_iter()
        .map(|(key, value)| {
            if resolved.is_writable(&key) {
                Ok((key.clone(), declared::encode_value(&value)))
            } else {
                Err(format!(
                    "The result writes the key '{key}', which the action does not declare in \
                     'write'; nothing was written."
                ))
            }
        })
        .collect()
}

/// An activation the state phases stopped before it ran (no process was involved; nothing
/// reads the start kind of such a run).
fn refused(outcome: Outcome, message: String) -> RunOutcome {
    let now = wisp_core::time::now_ms();
    RunOutcome::failure(outcome, message, now, None, StartKind::Warm)
}

#[cfg(test)]
mod tests;
