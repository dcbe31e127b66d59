-- A clinic's audit trail after two busy months, for the dashboard's query-plan tests and its
-- benchmark: 1,000,000 change_log rows over the last 58 days (50,000 records of 8 tables, 10
-- actors), 100,000 access_log rows (DrChrono and Coda calls, dashboard views with record ids),
-- 20,000 sync runs, then ANALYZE. Run as the schema owner (it creates the month partitions).
SELECT ensure_month_partition('change_log', (now() - make_interval(days => d))::date),
       ensure_month_partition('access_log', (now() - make_interval(days => d))::date),
       ensure_month_partition('sync_log', (now() - make_interval(days => d))::date)
  FROM generate_series(0, 60, 10) AS d;

INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                        old_values, new_values, actor, at)
SELECT (ARRAY['patients', 'appointments', 'clinical_notes', 'deepcura_notes', 'medications',
              'problems', 'insurance_records', 'line_items'])[1 + i % 8],
       md5('record' || (i % 50000))::uuid,
       jsonb_build_object('drchrono_id', i % 50000),
       CASE WHEN i < 50000 THEN 'INSERT' ELSE 'UPDATE' END,
       ARRAY['status', 'updated_at'],
       jsonb_build_object('status', 'before'),
       jsonb_build_object('status', 'after ' || i),
       CASE WHEN i % 25 = 0 THEN 'admin:oncall@clinic.example'
            WHEN i % 25 <= 5 THEN 'coda:staff' || (i % 25) || '@clinic.example'
            ELSE 'sync:' || (ARRAY['patients', 'appointments', 'clinical_notes', 'medications'])[1 + i % 4] END,
       now() - make_interval(secs => i * 5)
  FROM generate_series(0, 999999) AS i;

INSERT INTO access_log (system, method, path_template, status_code, latency_ms, pipeline, actor,
                        page, record_ids, at)
SELECT CASE WHEN i % 10 = 0 THEN 'dashboard' WHEN i % 3 = 0 THEN 'coda' ELSE 'drchrono' END,
       CASE WHEN i % 7 = 0 THEN 'POST' ELSE 'GET' END,
       CASE WHEN i % 10 = 0 THEN '/admin/audit/{table}/{id}' ELSE '/api/patients' END,
       CASE WHEN i % 50 = 0 THEN 429 ELSE 200 END,
       20 + i % 100,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'patients' END,
       CASE WHEN i % 10 = 0 THEN 'staff' || (i % 7) || '@clinic.example' END,
       CASE WHEN i % 10 = 0 THEN 'audit' END,
       CASE WHEN i % 10 = 0 THEN ARRAY[md5('record' || (i % 50000))::uuid] END,
       now() - make_interval(secs => i * 50)
  FROM generate_series(0, 99999) AS i;

INSERT INTO sync_log (pipeline, trigger, started_at, finished_at, status, inserted, error)
SELECT (ARRAY['providers', 'patients', 'appointments', 'clinical_notes', 'medications'])[1 + i % 5],
       'schedule',
       now() - make_interval(secs => i * 250),
       now() - make_interval(secs => i * 250 - 30),
       CASE WHEN i % 40 = 7 THEN 'failed' ELSE 'succeeded' END,
       i % 13,
       CASE WHEN i % 40 = 7 THEN 'DrChrono answered 503' END
  FROM generate_series(0, 19999) AS i;

ANALYZE;
