"""Company and industry news (issue 13): the Naver search boundary and news ingestion.

* :mod:`kstock.news.naver` — the Naver news search client (wire format, quota, back-off);
  :mod:`kstock.news.errors` its errors; :mod:`kstock.news.quota` the daily call budget.
* :mod:`kstock.news.ingest` — one query message in: fetch, deduplicate, link, store.
* :mod:`kstock.news.linking` — which companies and industries an article names.
* :mod:`kstock.news.keywords` — kiwipiepy nouns and the word cloud of a company's news.
* :mod:`kstock.news.store` — idempotent writes and Korean search.
"""
