-- Namespaces' keys, throttle overrides and feed records, and entities: the tables of the
-- SQLite store's entities.db. Names compare byte by byte (COLLATE "C"), as in SQLite, so
-- listings come in the same order whatever the database's locale. Documents are TEXT, kept
-- exactly as written (jsonb would reorder them and refuses \u0000 in strings).

CREATE TABLE keys (
    uuid TEXT COLLATE "C" PRIMARY KEY,
    key_sha256 BYTEA NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    subject TEXT NOT NULL
);
CREATE INDEX keys_by_namespace ON keys (namespace);

-- `name` is the path inside the namespace (`[pkg/]name`); all collections share it, as
-- OpenWhisk's names do.
CREATE TABLE entities (
    namespace TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    collection TEXT NOT NULL,
    package TEXT COLLATE "C" NOT NULL DEFAULT '',
    updated BIGINT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX entities_by_updated ON entities (namespace, collection, updated DESC);

-- An administrator's throttle overrides per namespace; NULL keeps the system value.
CREATE TABLE namespace_limits (
    namespace TEXT COLLATE "C" PRIMARY KEY,
    invocations_per_minute BIGINT,
    concurrent_invocations BIGINT,
    fires_per_minute BIGINT
);

-- What feed providers hosted by the server keep per trigger (alarm schedules).
CREATE TABLE feeds (
    provider TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    trigger TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (provider, namespace, trigger)
);
