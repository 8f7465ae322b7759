-- Viability state of each ETA update (services/eta/lethal.py): 'ok', 'compromised' (the
-- modelled body touched a lethal limit, or the budget runs out before arrival) or 'lost'
-- (a lethal limit was held: frozen, or overheated), with when and why it was lost. Rows
-- written before keep 'ok'. One statement per column: each is applied to every chunk.
ALTER TABLE eta ADD COLUMN IF NOT EXISTS viability_state text NOT NULL DEFAULT 'ok';
ALTER TABLE eta ADD COLUMN IF NOT EXISTS viability_lost_at timestamptz;
ALTER TABLE eta ADD COLUMN IF NOT EXISTS viability_lost_reason text;
