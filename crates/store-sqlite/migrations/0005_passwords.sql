-- People log in with a password (issue 11): the PHC string of its salted argon2id hash, set by a
-- `user.password_set` event whose projection records it (so the column is rebuilt from the
-- chain like the others). NULL: the user has no password and logs in with none (tokens only).
ALTER TABLE users ADD COLUMN password_hash TEXT;
