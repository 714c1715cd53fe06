-- Every `ytingest ingest` report, as printed with --json.
CREATE TABLE ingest_reports (
    report_id  bigserial PRIMARY KEY,
    run_ids    text[] NOT NULL,
    report     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
