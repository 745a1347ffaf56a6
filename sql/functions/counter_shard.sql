-- The counter shard this transaction writes: the lowest of 16 that no other transaction holds, leased until commit
-- with a transaction-scoped advisory lock. Taken once, remembered for the transaction (set_config ..., true).
-- Only when all 16 are busy does a writer wait, for one shard, before it holds any row: never a deadlock.
-- Each counter (real_user_count, daily_real_totals, real_user_type_counts) keeps a row per shard, and a writer adds
-- only to its own, so no two writers ever update the same counter row, whatever their order; reads add the shards up.
CREATE FUNCTION counter_shard() RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE
  leased smallint := nullif(current_setting('days_since.counter_shard', true), '')::smallint;
BEGIN
  IF leased IS NOT NULL THEN
    RETURN leased;
  END IF;
  FOR candidate IN 0..15 LOOP
    IF pg_try_advisory_xact_lock(1684632435, candidate) THEN
      leased := candidate;
      EXIT;
    END IF;
  END LOOP;
  IF leased IS NULL THEN
    leased := floor(random() * 16)::smallint;
    PERFORM pg_advisory_xact_lock(1684632435, leased);
  END IF;
  PERFORM set_config('days_since.counter_shard', leased::text, true);
  RETURN leased;
END
$$;
