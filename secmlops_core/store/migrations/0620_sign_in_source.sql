-- Failed sign-ins are counted per account and per source (the client address), so guesses from
-- one place cannot lock the account's owner out everywhere else.
ALTER TABLE sign_in_failures ADD COLUMN IF NOT EXISTS source VARCHAR DEFAULT '';
