"""The synthetic corpus of the scale benchmark: English-like agent memories from templates.

Sessions of 20 turns (a user, the agent, tool output) about one incident each (domain, component, problem,
cause, fix), spread over 8 agents; 10% typed memories of every type, each derived from one or two of its
agent's episodes; questions of the kinds an agent asks. Deterministic for a given size and seed.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

from alma_graph.model import MEMORY_TYPES

AGENTS = ["support", "devops", "billing-bot", "sre", "data-eng", "frontend", "security", "onboarding"]
SESSION_TURNS = 20
MIX = {"Outcome": 0.04, "DomainKnowledge": 0.025, "Heuristic": 0.015, "UserPreference": 0.01, "AntiPattern": 0.01}
V = {k: v.split("|") for k, v in {
    "domain": "billing|auth|search|payments|checkout|notifications|analytics|inventory|shipping|onboarding|"
              "reporting|recommendations",
    "component": "API gateway|Postgres replica|Redis cache|Kafka consumer|nightly ETL job|React frontend|iOS app|"
                 "CI pipeline|Terraform module|Helm chart|cron scheduler|S3 bucket policy|GraphQL resolver|"
                 "login page|webhook handler|rate limiter|feature flag service|search index",
    "task": "deploy|debug|migrate|refactor|profile|roll back|upgrade|document|monitor|load-test|patch|review|"
            "benchmark|configure|reindex",
    "problem": "times out after 30 seconds|returns 502 errors|leaks memory under load|drops messages|is slow for "
               "large accounts|fails the health check|double-charges some customers|loses the session cookie|logs "
               "a null pointer exception|runs out of disk|hangs during startup|shows stale prices|rejects valid "
               "tokens|sends duplicate emails",
    "cause": "a missing index|an expired certificate|a race condition|a wrong environment variable|a connection "
             "pool that is too small|an N+1 query|a stale cache entry|a timezone bug|a retry storm|an unbounded "
             "queue|a schema drift|a noisy neighbour on the node",
    "fix": "add an index on the lookup column|rotate the certificate|take a lock around the update|fix the config "
           "and redeploy|raise the pool size to {n}|batch the queries|invalidate the cache on write|store every "
           "time in UTC|add exponential backoff with jitter|cap the queue at {n} items|pin the dependency "
           "version|move the job off the shared node",
    "tool": "kubectl|pytest|terraform plan|git bisect|grep|psql|curl|the profiler|Datadog|Sentry|the load tester|"
            "strace|EXPLAIN ANALYZE|docker compose|the flag console",
    "person": "Dana|Omar|Priya|Lukas|Mei|Carlos|Aisha|Tom|Ingrid|Kenji|Sofia|Ravi",
    "when": "yesterday|last Tuesday|the 3.2 release|this morning|the holiday sale|the database upgrade|the region "
            "failover|Monday's deploy",
    "category": "tone|format|language|schedule|review",
    "preference": "short answers|detailed explanations|bullet points|code first|tables for comparisons|links to "
                  "the docs|Python examples|TypeScript examples|no meetings before 10am|updates on Fridays|small "
                  "pull requests|tests before merge",
    "result": "{n} failing requests in the last hour|p99 latency of {n} ms|{n} rows touched|{n} errors, all from "
              "the same pod|exit code {m}|{n} MB of heap in use|{m} retries per call",
}.items()}
TURNS = [
    "{person}: can you {task} the {component} for {domain}? It {problem} since {when}. Ticket {ticket}.",
    "Agent: I will {task} the {component} first and check it with {tool} before {clock}.",
    "Tool {tool}: {result} on the {domain} {component}.",
    "Agent: after {n} log lines the root cause looks like {cause} in the {component}; I suggest we {fix}.",
    "{person}: the {domain} team says the {component} {problem} again, ticket {ticket}.",
    "{person}: thanks. Please keep the summary to {preference}; I will read it at {clock}.",
    "Agent: done, {fix} is rolled out to {domain}; {tool} now shows {result}.",
    "{person}: did {when} change anything in the {component}? We see {result}.",
    "Agent: at {clock} {tool} shows {result}; that rules out {cause}.",
]
QUERIES = [
    "what to do when the {domain} {component} {problem}?", "how did we fix {cause} in the {component}?",
    "what does {person} prefer for {category}?", "which tool found the {domain} {component} issue?",
    "{task} {component} {domain}", "what went wrong with the {component} after {when}?",
    "is it safe to {task} the {component} without a backup?", "facts about the {domain} {component}",
]
MEMORY_FIELDS = {  # per type: own field -> template (numbers and flags are filled in corpus())
    "Outcome": {"task": "{task} the {component} for {domain}", "task_type": "{task}", "strategy_used": "{fix}"},
    "DomainKnowledge": {"domain": "{domain}", "fact": "the {component} is owned by {person} and {problem} when "
                        "{cause} happens|the {component} allows at most {n} connections per pod|use {tool} to "
                        "inspect the {component}"},
    "Heuristic": {"condition": "{task} {component} in {domain}", "strategy": "{fix}"},
    "UserPreference": {"user": "{person}", "category": "{category}", "preference": "{preference}"},
    "AntiPattern": {"pattern": "{task} the {component} on a Friday without {tool}", "why_bad": "it {problem}",
                    "better_alternative": "{fix}"},
}


class Slots(dict):
    """Template slots: fixed ones (a session's topic) plus random picks, the same within one text."""

    def __init__(self, rng: random.Random, fixed: dict | None = None):
        super().__init__(fixed or {})
        self.rng = rng

    def __missing__(self, key):
        r = self.rng
        value = {"n": lambda: str(r.randint(2, 5000)), "m": lambda: str(r.randint(1, 9)),
                 "ticket": lambda: f"#{r.randint(1000, 99999)}",
                 "clock": lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"}.get(key, lambda: r.choice(V[key]))()
        self[key] = value
        return value

    def fill(self, template: str) -> str:
        text = self.rng.choice(template.split("|")).format_map(self)
        return text.format_map(self) if "{" in text else text


def corpus(size: int, seed: int = 7):
    """Episodes by agent (remember_many dicts) and memories (label, agent, fields, valid_from_ms, episode indices)."""
    rng, now_s = random.Random(seed), time.time()
    n_episodes = size - round(size * sum(MIX.values()))
    episodes: dict[str, list[dict]] = defaultdict(list)
    for s in range(0, n_episodes, SESSION_TURNS):
        agent, session = AGENTS[s // SESSION_TURNS % len(AGENTS)], f"s{s // SESSION_TURNS}"
        topic = {k: rng.choice(V[k]) for k in ("domain", "component", "problem", "cause", "fix", "person")}
        start = now_s - rng.uniform(0, 180 * 86400)
        for i in range(min(SESSION_TURNS, n_episodes - s)):
            episodes[agent].append({"text": Slots(rng, topic).fill(rng.choice(TURNS)), "session": session,
                                    "timestamp": start + 60 * i, "source_id": f"{session}#{i}"})
    memories = []
    for label, share in MIX.items():
        own = MEMORY_TYPES[label].own_fields()
        for _ in range(round(size * share)):
            agent, slots, ok = rng.choice(AGENTS), Slots(rng), rng.random() < 0.7
            fields = {name: None for name in own} | {k: slots.fill(t) for k, t in MEMORY_FIELDS[label].items()}
            fields |= {k: v for k, v in {"success": ok, "duration_ms": float(rng.randint(100, 90000)),
                                          "error": None if ok else slots.fill("it {problem}"),
                                          "occurrence_count": rng.randint(3, 20), "success_count": rng.randint(2, 3)
                                          }.items() if k in own}
            sources = sorted({rng.randrange(len(episodes[agent])) for _ in range(rng.randint(1, 2))})
            memories.append((label, agent, fields, int((now_s - rng.uniform(0, 180 * 86400)) * 1000), sources))
    return dict(episodes), memories


def queries(n: int, seed: int) -> list[str]:
    rng, out = random.Random(seed), {}
    while len(out) < n:
        out.setdefault(Slots(rng).fill(rng.choice(QUERIES)), None)
    return list(out)
