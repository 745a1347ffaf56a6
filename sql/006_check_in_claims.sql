-- A run holds a Friday's check-in for a short lease while it posts, so two overlapping runs (EventBridge
-- Scheduler delivers at least once) cannot both post it. A run that fails gives the lease back; one that
-- died mid-post loses it when it lapses, and the retry takes over.
ALTER TABLE weekly_check_ins ADD COLUMN claimed_at timestamptz;
