//! What a component instance's store holds, and the world's imports on it: `kv` and `objects`
//! through [`GuestState`] for the instance's namespace, `log` into the captured output.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::wisp::function::{kv, log, objects, types};
use crate::capture::Capture;
use crate::command::MemoryLimit;
use crate::state_imports::{GuestState, StateError};

/// Most keys one `objects.list` call may return.
const MAX_LIST: u32 = 1000;

pub(crate) struct Host {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) memory: MemoryLimit,
    /// `None` on a server without state services (and in the benchmark's floor).
    pub(crate) state: Option<Arc<dyn GuestState>>,
    /// The only namespace this instance's imports reach.
    pub(crate) namespace: String,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Host {
    fn state(&self) -> Result<&dyn GuestState, types::Error> {
        self.state.as_deref().ok_or_else(|| {
            types::Error::Failed("this server runs without key-value and object storage".into())
        })
    }

    /// The most bytes of an object the guest may be handed: what its memory limit allows.
    fn max_object_bytes(&self) -> u64 {
        self.memory.limit as u64
    }
}

impl From<StateError> for types::Error {
    fn from(e: StateError) -> types::Error {
        match e {
            StateError::Invalid(m) => types::Error::Invalid(m),
            StateError::Quota(m) => types::Error::Quota(m),
            StateError::WrongType(m) => types::Error::WrongType(m),
            StateError::NotANumber(m) => types::Error::NotANumber(m),
            StateError::TooLarge(m) => types::Error::TooLarge(m),
            StateError::Failed(m) => types::Error::Failed(m),
        }
    }
}

impl types::Host for Host {}

impl kv::Host for Host {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, types::Error> {
        Ok(self.state()?.kv_get(&self.namespace, &key).await?)
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), types::Error> {
        Ok(self
            .state()?
            .kv_set(&self.namespace, &key, value, ttl_seconds)
            .await?)
    }

    async fn delete(&mut self, key: String) -> Result<bool, types::Error> {
        Ok(self.state()?.kv_delete(&self.namespace, &key).await?)
    }

    async fn incr(&mut self, key: String, by: i64) -> Result<i64, types::Error> {
        Ok(self.state()?.kv_incr(&self.namespace, &key, by).await?)
    }

    async fn keys(&mut self, prefix: String) -> Result<Vec<String>, types::Error> {
        Ok(self.state()?.kv_keys(&self.namespace, &prefix).await?)
    }
}

impl objects::Host for Host {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, types::Error> {
        let max = self.max_object_bytes();
        Ok(self.state()?.object_get(&self.namespace, &key, max).await?)
    }

    async fn put(
        &mut self,
        key: String,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<(), types::Error> {
        Ok(self
            .state()?
            .object_put(&self.namespace, &key, data, content_type)
            .await?)
    }

    async fn delete(&mut self, key: String) -> Result<bool, types::Error> {
        Ok(self.state()?.object_delete(&self.namespace, &key).await?)
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<objects::Listing, types::Error> {
        if !(1..=MAX_LIST).contains(&limit) {
            return Err(types::Error::Invalid(format!(
                "the limit of a listing is 1 to {MAX_LIST}, not {limit}"
            )));
        }
        let page = self
            .state()?
            .object_list(
                &self.namespace,
                &prefix,
                start_after.as_deref(),
                limit as usize,
            )
            .await?;
        Ok(objects::Listing {
            keys: page.keys,
            truncated: page.truncated,
        })
    }
}

impl log::Host for Host {
    async fn log(&mut self, level: log::Level, message: String) {
        let stream = match level {
            log::Level::Debug | log::Level::Info => &self.stdout,
            log::Level::Warn | log::Level::Error => &self.stderr,
        };
        stream.line(&message);
    }
}
