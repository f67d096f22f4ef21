//! The names a cluster uses on NATS, all under its cluster name, so two clusters can share one
//! NATS server.

/// Subject and stream names of one cluster.
#[derive(Debug, Clone)]
pub struct Subjects {
    cluster: String,
}

impl Subjects {
    /// `cluster` must be a NATS token: letters, digits, `-` and `_`.
    pub fn new(cluster: &str) -> Subjects {
        Subjects {
            cluster: cluster.to_owned(),
        }
    }

    /// The work-queue stream holding activations not yet taken by their invoker.
    pub fn invoke_stream(&self) -> String {
        format!("{}-invoke", self.cluster)
    }

    /// Where activations for every invoker are published: the stream's subjects.
    pub fn invoke_all(&self) -> String {
        format!("{}.invoke.*", self.cluster)
    }

    /// Where activations for `invoker` are published.
    pub fn invoke(&self, invoker: &str) -> String {
        format!("{}.invoke.{invoker}", self.cluster)
    }

    /// Where outcomes for `controller` are sent.
    pub fn results(&self, controller: &str) -> String {
        format!("{}.result.{controller}", self.cluster)
    }

    /// The stream holding outcomes until their controller takes them.
    pub fn outcome_stream(&self) -> String {
        format!("{}-outcomes", self.cluster)
    }

    /// Every controller's outcome subject: the outcome stream's subjects.
    pub fn results_all(&self) -> String {
        format!("{}.result.*", self.cluster)
    }

    /// Where `invoker` announces itself.
    pub fn heartbeat(&self, invoker: &str) -> String {
        format!("{}.heartbeat.{invoker}", self.cluster)
    }

    /// Every invoker's heartbeats.
    pub fn heartbeats(&self) -> String {
        format!("{}.heartbeat.*", self.cluster)
    }

    /// Where controller `controller` announces itself.
    pub fn controller_heartbeat(&self, controller: &str) -> String {
        format!("{}.controller.{controller}", self.cluster)
    }

    /// Every controller's heartbeats.
    pub fn controller_heartbeats(&self) -> String {
        format!("{}.controller.*", self.cluster)
    }

    /// The stream holding action code too large for a message.
    pub fn code_stream(&self) -> String {
        format!("{}-code", self.cluster)
    }

    /// The code stream's subjects.
    pub fn code_all(&self) -> String {
        format!("{}.code.>", self.cluster)
    }

    /// Where chunk `n` of the code with SHA-256 `digest` is stored.
    pub fn code_chunk(&self, digest: &str, n: usize) -> String {
        format!("{}.code.{digest}.{n}", self.cluster)
    }

    /// Where code is sent to be checked before it is stored; any one invoker answers.
    pub fn prepare(&self) -> String {
        format!("{}.prepare", self.cluster)
    }

    /// The queue group of the invokers answering on [`Subjects::prepare`].
    pub fn invokers_group(&self) -> String {
        format!("{}-invokers", self.cluster)
    }
}
