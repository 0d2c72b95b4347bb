-- The language a user chose for the dashboard (`en`, `ko`, …); NULL: none chosen, the browser's
-- own languages decide. Not checked against a list here: a language is added by adding its
-- translation files, and the server refuses codes the dashboard does not speak.
ALTER TABLE users ADD COLUMN language TEXT;
