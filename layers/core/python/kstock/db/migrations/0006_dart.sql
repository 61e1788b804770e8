-- OpenDART: corp codes, filings and key accounts per period (issue 13).

-- corpCode.xml maps DART's 8-digit corp_code to the 6-digit stock code; only listed companies are
-- kept (the file's other ~90,000 entries have no stock code and nothing in kstock refers to them).
-- Joined to companies by symbol, so a company seeded after the sync is matched without a re-sync.
CREATE TABLE dart_corp_codes (
    corp_code   char(8) PRIMARY KEY,
    stock_code  varchar(9) NOT NULL UNIQUE,
    corp_name   text NOT NULL,
    modify_date date,
    source      text NOT NULL,                -- dart, or simulated (the local stand-in)
    synced_at   timestamptz NOT NULL DEFAULT now()
);

-- Financials per period: FY (사업보고서, 11011) and the quarters Q1 (11013), Q2 (11012, the
-- three months of the half-year report) and Q3 (11014). A quarter's figures are that quarter's
-- three months, never the cumulative year-to-date. Rows written before this migration were
-- yearly: they become period FY. fs_div says which statements the figures come from:
-- CFS consolidated (preferred) or OFS separate (a company without subsidiaries files only OFS).
ALTER TABLE financials DROP CONSTRAINT financials_company_id_fiscal_year_key;
ALTER TABLE financials
    ADD COLUMN period     text NOT NULL DEFAULT 'FY' CHECK (period IN ('FY', 'Q1', 'Q2', 'Q3')),
    ADD COLUMN fs_div     text CHECK (fs_div IN ('CFS', 'OFS')),
    ADD COLUMN receipt_no text,               -- the DART filing the figures come from
    ADD COLUMN currency   text NOT NULL DEFAULT 'KRW';
ALTER TABLE financials ADD CONSTRAINT financials_company_period_key UNIQUE (company_id, fiscal_year, period);

-- Filings: who filed, DART's remark flags (rm) and where the row came from.
ALTER TABLE reports
    ADD COLUMN filer_name text,
    ADD COLUMN remark     text,
    ADD COLUMN source     text NOT NULL DEFAULT 'dart';

-- The last successful refresh of each kind of data per company (filings, financials, news, ...),
-- read by the data-status route. A kind is refreshed even when the provider had nothing new.
CREATE TABLE IF NOT EXISTS data_refreshes (
    company_id   integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, kind)
);
