//! Resolved actions by path, so a warm invoke does not touch the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use wisp_core::{Action, Activation, ActivationId, EntityPath};

#[derive(Default)]
pub struct ActionCache {
    map: RwLock<HashMap<EntityPath, Arc<Action>>>,
}

impl ActionCache {
    pub fn get(&self, path: &EntityPath) -> Option<Arc<Action>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    pub fn put(&self, action: Arc<Action>) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(action.path.clone(), action);
    }

    pub fn remove(&self, path: &EntityPath) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(path);
    }
}

/// Finished activations whose record is not yet committed, so a read right after a blocking
/// invoke finds its record.
#[derive(Default)]
pub struct Unflushed {
    map: RwLock<HashMap<ActivationId, Activation>>,
}

impl Unflushed {
    pub fn insert(&self, record: Activation) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.activation_id.clone(), record);
    }

    pub fn remove(&self, id: &ActivationId) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    pub fn get(&self, namespace: &str, id: &ActivationId) -> Option<Activation> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .filter(|a| a.namespace == namespace)
            .cloned()
    }
}
