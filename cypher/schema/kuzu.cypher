// The alma-graph schema on embedded Kuzu (alma_graph/backends/kuzu.py): node and rel tables and
// full-text indexes, as statements for Kuzu's shell. To make a database, let GraphMemory create
// it: it also writes the AlmaGraphSchema record, without which a Kuzu database that has these
// tables refuses to open. No vector index is created here: a table is searched by an exact
// cosine scan until it holds 150,000 rows (ALMA_KUZU_VECTOR_INDEX_MIN_ROWS), then the
// backend builds its HNSW index (CALL CREATE_VECTOR_INDEX).
// Schema version 2, 384-d vectors. Generated from what the backend issues by
// `python -m alma_graph.cypher_files`: do not edit, regenerate.

LOAD EXTENSION vector;
LOAD EXTENSION fts;
CREATE NODE TABLE IF NOT EXISTS AlmaGraphSchema(key STRING, version INT64, dimension INT64, embedder STRING, created_at INT64, PRIMARY KEY (key));
CREATE NODE TABLE IF NOT EXISTS Agent(name STRING, created_at INT64, can_learn STRING, cannot_learn STRING, description STRING, PRIMARY KEY (name));
CREATE NODE TABLE IF NOT EXISTS Session(id STRING, agent STRING, started_at INT64, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS Episode(id STRING, agent STRING, session STRING, text STRING, embedding FLOAT[384], timestamp INT64, seq INT64, source_id STRING, created_at INT64, metadata STRING, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS ApiKey(id STRING, agent STRING, admin BOOLEAN, secret_sha256 STRING, label STRING, created_at INT64, revoked_at INT64, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS Webhook(id STRING, url STRING, events STRING, secret STRING, status STRING, created_at INT64, failed_at INT64, last_error STRING, retry_at INT64, delivered_count INT64, last_delivered_at INT64, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS WebhookDelivery(id STRING, webhook STRING, event_id STRING, event_type STRING, memory_id STRING, seq INT64, payload STRING, status STRING, attempts INT64, next_attempt INT64, retry_since INT64, created_at INT64, last_error STRING, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS Concept(id STRING, embedding FLOAT[384], created_at INT64, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS Heuristic(id STRING, agent STRING, text STRING, embedding FLOAT[384], created_at INT64, updated_at INT64, valid_from INT64, valid_to INT64, invalidated_at INT64, confidence DOUBLE, importance DOUBLE, access_count INT64, last_access INT64, metadata STRING, condition STRING, strategy STRING, occurrence_count INT64, success_count INT64, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS Outcome(id STRING, agent STRING, text STRING, embedding FLOAT[384], created_at INT64, updated_at INT64, valid_from INT64, valid_to INT64, invalidated_at INT64, confidence DOUBLE, importance DOUBLE, access_count INT64, last_access INT64, metadata STRING, task STRING, task_type STRING, success BOOLEAN, strategy_used STRING, duration_ms DOUBLE, error STRING, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS UserPreference(id STRING, agent STRING, text STRING, embedding FLOAT[384], created_at INT64, updated_at INT64, valid_from INT64, valid_to INT64, invalidated_at INT64, confidence DOUBLE, importance DOUBLE, access_count INT64, last_access INT64, metadata STRING, user STRING, category STRING, preference STRING, source STRING, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS DomainKnowledge(id STRING, agent STRING, text STRING, embedding FLOAT[384], created_at INT64, updated_at INT64, valid_from INT64, valid_to INT64, invalidated_at INT64, confidence DOUBLE, importance DOUBLE, access_count INT64, last_access INT64, metadata STRING, domain STRING, fact STRING, source STRING, PRIMARY KEY (id));
CREATE NODE TABLE IF NOT EXISTS AntiPattern(id STRING, agent STRING, text STRING, embedding FLOAT[384], created_at INT64, updated_at INT64, valid_from INT64, valid_to INT64, invalidated_at INT64, confidence DOUBLE, importance DOUBLE, access_count INT64, last_access INT64, metadata STRING, pattern STRING, why_bad STRING, better_alternative STRING, occurrence_count INT64, PRIMARY KEY (id));
CREATE REL TABLE IF NOT EXISTS LEARNED(FROM Agent TO Heuristic, FROM Agent TO Outcome, FROM Agent TO UserPreference, FROM Agent TO DomainKnowledge, FROM Agent TO AntiPattern, at INT64, reason STRING);
CREATE REL TABLE IF NOT EXISTS DERIVED_FROM(FROM Heuristic TO Episode, FROM Outcome TO Episode, FROM UserPreference TO Episode, FROM DomainKnowledge TO Episode, FROM AntiPattern TO Episode, FROM Heuristic TO Heuristic, FROM Heuristic TO Outcome, FROM Heuristic TO UserPreference, FROM Heuristic TO DomainKnowledge, FROM Heuristic TO AntiPattern, FROM Outcome TO Heuristic, FROM Outcome TO Outcome, FROM Outcome TO UserPreference, FROM Outcome TO DomainKnowledge, FROM Outcome TO AntiPattern, FROM UserPreference TO Heuristic, FROM UserPreference TO Outcome, FROM UserPreference TO UserPreference, FROM UserPreference TO DomainKnowledge, FROM UserPreference TO AntiPattern, FROM DomainKnowledge TO Heuristic, FROM DomainKnowledge TO Outcome, FROM DomainKnowledge TO UserPreference, FROM DomainKnowledge TO DomainKnowledge, FROM DomainKnowledge TO AntiPattern, FROM AntiPattern TO Heuristic, FROM AntiPattern TO Outcome, FROM AntiPattern TO UserPreference, FROM AntiPattern TO DomainKnowledge, FROM AntiPattern TO AntiPattern, at INT64, reason STRING);
CREATE REL TABLE IF NOT EXISTS SUPERSEDES(FROM Heuristic TO Heuristic, FROM Heuristic TO Outcome, FROM Heuristic TO UserPreference, FROM Heuristic TO DomainKnowledge, FROM Heuristic TO AntiPattern, FROM Outcome TO Heuristic, FROM Outcome TO Outcome, FROM Outcome TO UserPreference, FROM Outcome TO DomainKnowledge, FROM Outcome TO AntiPattern, FROM UserPreference TO Heuristic, FROM UserPreference TO Outcome, FROM UserPreference TO UserPreference, FROM UserPreference TO DomainKnowledge, FROM UserPreference TO AntiPattern, FROM DomainKnowledge TO Heuristic, FROM DomainKnowledge TO Outcome, FROM DomainKnowledge TO UserPreference, FROM DomainKnowledge TO DomainKnowledge, FROM DomainKnowledge TO AntiPattern, FROM AntiPattern TO Heuristic, FROM AntiPattern TO Outcome, FROM AntiPattern TO UserPreference, FROM AntiPattern TO DomainKnowledge, FROM AntiPattern TO AntiPattern, at INT64, reason STRING);
CREATE REL TABLE IF NOT EXISTS MERGED_FROM(FROM Heuristic TO Heuristic, FROM Outcome TO Outcome, FROM UserPreference TO UserPreference, FROM DomainKnowledge TO DomainKnowledge, FROM AntiPattern TO AntiPattern, at INT64, reason STRING);
CREATE REL TABLE IF NOT EXISTS IN_SESSION(FROM Episode TO Session);
CREATE REL TABLE IF NOT EXISTS NEXT(FROM Episode TO Episode);
CREATE REL TABLE IF NOT EXISTS HAS_SESSION(FROM Agent TO Session);
CREATE REL TABLE IF NOT EXISTS MENTIONS(FROM Episode TO Concept, FROM Heuristic TO Concept, FROM Outcome TO Concept, FROM UserPreference TO Concept, FROM DomainKnowledge TO Concept, FROM AntiPattern TO Concept);
CREATE REL TABLE IF NOT EXISTS SHARES_WITH(FROM Agent TO Agent, at INT64);
CREATE REL TABLE IF NOT EXISTS INHERITS_FROM(FROM Agent TO Agent, at INT64);
CALL CREATE_FTS_INDEX('Episode', 'episode_text_fts', ['text']);
CALL CREATE_FTS_INDEX('Heuristic', 'heuristic_text_fts', ['text']);
CALL CREATE_FTS_INDEX('Outcome', 'outcome_text_fts', ['text']);
CALL CREATE_FTS_INDEX('UserPreference', 'userpreference_text_fts', ['text']);
CALL CREATE_FTS_INDEX('DomainKnowledge', 'domainknowledge_text_fts', ['text']);
CALL CREATE_FTS_INDEX('AntiPattern', 'antipattern_text_fts', ['text']);
