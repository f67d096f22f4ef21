-- Activation records, and what running activations leave behind until they finish: the
-- tables of the SQLite store's activations.db.

-- `seq` orders records that started in the same millisecond, newest write first, as SQLite's
-- rowid does; the listing indexes end with it so a page is read in index order, unsorted.
-- Retention (`start < $1`) reads activations_by_start too: an index on `start` alone would
-- cost every write and lure the generic plan of a listing away from the namespace's index.
CREATE TABLE activations (
    id TEXT PRIMARY KEY,
    namespace TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    start BIGINT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    doc TEXT NOT NULL
);
CREATE INDEX activations_by_start ON activations (namespace, start DESC, seq DESC);
CREATE INDEX activations_by_name ON activations (namespace, name, start DESC, seq DESC);

-- Accepted activations still running, and the progress of running compositions. `owner` is
-- the controller that runs them: after a restart a controller fails or resumes only its own,
-- never the live work of another controller sharing the database.
CREATE TABLE pending (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX pending_by_owner ON pending (owner);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX sessions_by_owner ON sessions (owner);
