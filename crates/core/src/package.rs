//! Packages and bindings: named groups of actions that share parameters.

use serde::{Deserialize, Serialize};

use crate::{Annotations, EntityName, EntityPath, Parameter, SemVer};

/// A package, or a binding to another one (`binding` set). A binding has no actions of its own:
/// `binding/action` addresses the bound package's action with the binding's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// `package` is always `None`: packages do not nest.
    pub path: EntityPath,
    pub version: SemVer,
    pub publish: bool,
    pub parameters: Vec<Parameter>,
    pub annotations: Annotations,
    pub binding: Option<PackageRef>,
    pub updated: u64,
}

/// The package a binding points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PackageRef {
    pub namespace: EntityName,
    pub name: EntityName,
}

impl PackageRef {
    pub fn path(&self) -> EntityPath {
        EntityPath::new(self.namespace.clone(), None, self.name.clone())
    }
}

crate::entity::entity!(Package, Packages);
