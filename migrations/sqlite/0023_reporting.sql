-- Reporting (issue 26): a rollup of the manager's figures, kept by a background pass over the event
-- feed (store/src/reports). Each record's facts are filed by day (in policy.reporting.time_zone),
-- agent, queue, currency, measure and detail; the pass adds what each event's record contributes
-- and, for records that change (plans, disputes, promise judgements), takes back what it
-- contributed before (`report_seen`). Its position in the feed moves in the same transaction, so
-- a crash never counts an event twice or not at all.
CREATE TABLE report_facts (
    day          TEXT    NOT NULL,
    agent        TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    currency     TEXT    NOT NULL,
    measure      TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    count        INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (day, agent, queue, currency, measure, detail)
) WITHOUT ROWID;

-- Each agent's working day: first and last call started (microseconds since the epoch) and calls.
CREATE TABLE report_agent_days (
    day         TEXT    NOT NULL,
    agent       TEXT    NOT NULL,
    first_start INTEGER NOT NULL,
    last_start  INTEGER NOT NULL,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (day, agent)
) WITHOUT ROWID;

-- What a changing record (`plans/7`, `disputes/3`, `promises/12`) last contributed, as JSON rows.
CREATE TABLE report_seen (
    resource TEXT PRIMARY KEY,
    facts    TEXT NOT NULL
) WITHOUT ROWID;

-- The last event folded, and the settings the rollup was counted under (a change rebuilds it).
CREATE TABLE report_position (
    one              INTEGER PRIMARY KEY CHECK (one = 1),
    event_id         INTEGER NOT NULL,
    time_zone        TEXT    NOT NULL,
    attribution_days INTEGER NOT NULL
);

-- The book at each day's end (its time zone's), by queue and currency, in minor units.
CREATE TABLE report_book (
    day               TEXT    NOT NULL,
    queue             TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    receivables_minor INTEGER NOT NULL,
    current_minor     INTEGER NOT NULL,
    days_1_30_minor   INTEGER NOT NULL,
    days_31_60_minor  INTEGER NOT NULL,
    days_61_90_minor  INTEGER NOT NULL,
    over_90_minor     INTEGER NOT NULL,
    disputed_minor    INTEGER NOT NULL,
    with_agency_minor INTEGER NOT NULL,
    under_plan_minor  INTEGER NOT NULL,
    sales_minor       INTEGER NOT NULL,
    PRIMARY KEY (day, queue, currency)
) WITHOUT ROWID;

-- The days whose end the book was taken at, and when (a book with nothing owed has no rows above).
CREATE TABLE report_book_days (
    day       TEXT PRIMARY KEY,
    take_time TEXT NOT NULL
) WITHOUT ROWID;
