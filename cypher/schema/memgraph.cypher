// The alma-graph schema on Memgraph 3.6+ (alma_graph/backends/memgraph.py says why it looks like
// this). Memgraph refuses index and constraint statements inside explicit transactions: run
// them as auto-commit statements, one by one (mgconsole does).
// Schema version 2, 384-d vectors. Generated from what the backend issues by
// `python -m alma_graph.cypher_files`: do not edit, regenerate.

CREATE INDEX ON :Agent(name);
CREATE CONSTRAINT ON (n:Agent) ASSERT n.name IS UNIQUE;
CREATE INDEX ON :AlmaGraphSchema(key);
CREATE CONSTRAINT ON (n:AlmaGraphSchema) ASSERT n.key IS UNIQUE;
CREATE INDEX ON :AntiPattern(id);
CREATE CONSTRAINT ON (n:AntiPattern) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :ApiKey(id);
CREATE CONSTRAINT ON (n:ApiKey) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :Concept(id);
CREATE CONSTRAINT ON (n:Concept) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :DomainKnowledge(id);
CREATE CONSTRAINT ON (n:DomainKnowledge) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :Episode(id);
CREATE CONSTRAINT ON (n:Episode) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :Heuristic(id);
CREATE CONSTRAINT ON (n:Heuristic) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :Memory(id);
CREATE INDEX ON :Outcome(id);
CREATE CONSTRAINT ON (n:Outcome) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :Searchable(id);
CREATE INDEX ON :Session(id);
CREATE CONSTRAINT ON (n:Session) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :UserPreference(id);
CREATE CONSTRAINT ON (n:UserPreference) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :Webhook(id);
CREATE CONSTRAINT ON (n:Webhook) ASSERT n.id IS UNIQUE;
CREATE INDEX ON :WebhookDelivery(id);
CREATE CONSTRAINT ON (n:WebhookDelivery) ASSERT n.id IS UNIQUE;
CREATE VECTOR INDEX alma_episode_embedding ON :Episode(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE TEXT INDEX alma_episode_text ON :Episode(text);
CREATE VECTOR INDEX alma_concept_embedding ON :Concept(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE VECTOR INDEX alma_heuristic_embedding ON :Heuristic(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE TEXT INDEX alma_heuristic_text ON :Heuristic(text);
CREATE VECTOR INDEX alma_outcome_embedding ON :Outcome(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE TEXT INDEX alma_outcome_text ON :Outcome(text);
CREATE VECTOR INDEX alma_userpreference_embedding ON :UserPreference(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE TEXT INDEX alma_userpreference_text ON :UserPreference(text);
CREATE VECTOR INDEX alma_domainknowledge_embedding ON :DomainKnowledge(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE TEXT INDEX alma_domainknowledge_text ON :DomainKnowledge(text);
CREATE VECTOR INDEX alma_antipattern_embedding ON :AntiPattern(embedding) WITH CONFIG {"dimension": 384, "capacity": 1024, "metric": "cos"};
CREATE TEXT INDEX alma_antipattern_text ON :AntiPattern(text);
