//! Resolved actions by path, so a warm invoke does not touch the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use wisp_core::{Action, EntityPath};

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
