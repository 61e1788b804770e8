-- News ingestion (issue 13): Korean nouns for search and word clouds, and the Naver call quota.
--
-- nouns: kiwipiepy's nouns of title + summary, in order, repeats kept (noun frequency for the
-- word cloud counts occurrences). noun_search: the same nouns as a tsvector, for Korean search:
-- 0001's `search` column splits on spaces ('simple'), so "삼성전자가" never matches "삼성전자";
-- a morphological analyser separates the particle. array_to_tsvector keeps the nouns as they are
-- (no lower-casing, no stemming): queries are built from the same analyser's nouns.
ALTER TABLE news ADD COLUMN nouns text[] NOT NULL DEFAULT '{}';
ALTER TABLE news ADD COLUMN noun_search tsvector GENERATED ALWAYS AS (array_to_tsvector(nouns)) STORED;
CREATE INDEX news_noun_search_idx ON news USING gin (noun_search);

-- The link tables' primary keys lead with the owner; deleting old news (retention) cascades by news_id.
CREATE INDEX news_companies_news_idx ON news_companies (news_id);
CREATE INDEX news_industries_news_idx ON news_industries (news_id);

-- Naver search calls per KST day and application (a short hash of the client id, never the id):
-- every worker counts here before calling, so together they stay under NAVER_DAILY_QUOTA.
CREATE TABLE naver_quota (
    day   date NOT NULL,
    app   text NOT NULL,
    calls integer NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (day, app)
);
