-- Whether the user ever reported an email domain that is one of `domains` (a JSON array, INTERNAL_EMAIL_DOMAINS) or under
-- one: "mail.internal.test" is under "internal.test", "notinternal.test" is not. Index probes only, per configured domain:
-- the primary key for the domain itself, user_email_domains_reversed for its subdomains (the reversed domain starts with
-- the reversed "." || domain, a range in byte order, which '/' closes: it is the character after '.').
-- A user's thousand domains are never read. Recording asks this once per user of a batch.
CREATE FUNCTION has_internal_email_domain(who text, domains jsonb) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(domains) AS d(domain)
    WHERE EXISTS (SELECT 1 FROM user_email_domains k WHERE k.email_domain = d.domain AND k.user_id = who)
       OR EXISTS (
         SELECT 1 FROM user_email_domains k
         WHERE reverse(k.email_domain) >= reverse(d.domain) || '.' AND reverse(k.email_domain) < reverse(d.domain) || '/'
           AND k.user_id = who
       )
  )
$$;
