-- Where a `link` survey of an e-mail ticket is sent (the e-mail adapter delivers the link).
alter table surveys add column recipient_email text;
