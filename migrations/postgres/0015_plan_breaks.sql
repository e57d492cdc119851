-- What a plan's break left behind, recorded when the background pass ends it: the instalments
-- missed and the arrears on the day it broke, so guidance can name the broken plan (the payments
-- it was tracked against are no longer in the account view once it has ended). NULL for plans that
-- ended before this migration, and for completed ones.
ALTER TABLE plans ADD COLUMN end_missed BIGINT;
ALTER TABLE plans ADD COLUMN end_arrears_minor BIGINT;
