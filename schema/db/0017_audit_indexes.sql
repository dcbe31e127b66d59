-- One index less to maintain per audited change (issue 13: every synced row writes one
-- change_log row, so each index on it is paid once per row of a backfill).
-- change_log_at_idx (brin on at) is covered by change_log_at_id_idx (at, id), which 0010 added
-- for the dashboard, and by the monthly partitions themselves, whose bounds prune any range of
-- `at`. The admin plan test (tests/it/admin/plans.rs) still finds no sequential scan of
-- change_log behind any dashboard query, with a million rows.
DROP INDEX change_log_at_idx;
