-- The exchange's listing from KIS's stock master files (issue 15, `kstock listings sync`).
--
-- companies already has is_halted (거래정지) and is_warning (the safety filter's single flag). The
-- master files say more, and the sync keeps it beside them:
--   standard_code      the ISIN (표준코드), e.g. KR7005930003
--   security_group     증권그룹구분코드 as KIS writes it: ST shares, EF ETF, EN ETN, EW ELW, RT REIT, ...
--   is_administrative  관리종목 (administrative issue: the exchange's step before delisting)
--   market_warning     시장경고: caution (투자주의), warning (투자경고), risk (투자위험); NULL when none
ALTER TABLE companies
    ADD COLUMN standard_code     varchar(12),
    ADD COLUMN security_group    varchar(2),
    ADD COLUMN is_administrative boolean NOT NULL DEFAULT false,
    ADD COLUMN market_warning    text CHECK (market_warning IN ('caution', 'warning', 'risk'));

