"""``ltm bench small``: the small stores every user starts with (3-50 memories).

``make_small(seed)`` writes them: a few people per store, each with a handful of facts (where
they live, their job, diet, pet, hobby, birthday, ...), stored either as third-person notes or
as a chat in which the store's owner says their own facts in the first person (speaker = the
owner) and mentions friends' facts, between small talk. Every fact is asked three ways in plain
words (paraphrases that mostly share few words with the fact), each naming the person; two
kinds of unrelated question (``answerable=False``) are added: general ones ("how tall is Mount
Everest?") and ones about a person in the store on a topic the store never mentions.

Seeds: the benchmark reports on seed 0 only; the ranker trainer fits on other seeds (1, 2,
...). The templates and value pools are shared by all seeds (a ranker sees the signals, not
the words), the draws of people, facts, phrasing and order differ. Everything here was written
for this project.

The bench replays one seed through one store (one user per small store) and reports, for ltm,
BM25 alone and dense alone: P@1 and MRR over the answerable questions, and the AUROC of the
top hit's relevance (``Hit.relevance`` where the engine has it, else ``Hit.score``) separating
answerable from unrelated questions.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .evaluate import Answer, replay
from .labelled import MID, LabelledConversation, LabelledQuestion
from .metrics import auroc, mean, precision_at_1, reciprocal_rank, update_first
from .stats import percentile

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_SEASONS = ("spring", "summer", "autumn", "winter")
_CITIES = ("Lisbon", "Porto", "Leeds", "Austin", "Osaka", "Krakow", "Nairobi", "Montreal",
           "Valencia", "Tartu", "Bergen", "Adelaide", "Cork", "Dresden", "Cusco", "Ghent")
_NAMES = ("Priya", "Mara", "Ben", "Tomasz", "Aisha", "Leo", "Ingrid", "Kenji", "Lucia",
          "Omar", "Hannah", "Rafael", "Zanele", "Felix", "Yuki", "Carmen", "Dmitri", "Noor",
          "Elliot", "Sofia", "Jonas", "Amara", "Pablo", "Greta", "Malik", "Chloe", "Arjun",
          "Freya", "Mateo", "Lena", "Kwame", "Iris", "Nikolai", "Esther", "Tariq", "Ruth",
          "Hugo", "Mei", "Samuel", "Alba")
_PARTNERS = ("Daniel", "Rosa", "Marcus", "Helena", "Victor", "Ama", "Julian", "Sara", "Theo",
             "Nadia")
_SIBLINGS = ("Clara", "Ivan", "Beatriz", "Oscar", "Lila", "Marco", "Anouk", "Emil")


@dataclass(frozen=True)
class Topic:
    """One kind of fact: its values, how it is said (third person, first person) and the three
    ways it is asked."""

    key: str
    values: tuple[str, ...]
    said: tuple[tuple[str, str], ...]  # (about {name}, by the person themself); slot {v}
    asks: tuple[str, str, str]  # each names {name}


TOPICS: tuple[Topic, ...] = (
    Topic("home", _CITIES, (
        ("{name} moved to {v} in {month}", "I moved to {v} in {month}"),
        ("{name} has been renting a flat in {v} since {year}",
         "I've been renting a flat in {v} since {year}"),
        ("{name} settled in {v} after years of moving around",
         "After years of moving around I finally settled in {v}")),
        ("where does {name} live?", "which city is {name} based in?",
         "what town is home for {name} these days?")),
    Topic("job", ("nurse", "carpenter", "pharmacist", "primary school teacher", "bus driver",
                  "architect", "accountant", "baker", "vet", "electrician", "translator",
                  "physiotherapist", "software tester", "librarian", "florist"), (
        ("{name} works as a {v}", "I work as a {v}"),
        ("{name} started a new position as a {v} in {month}",
         "I started a new position as a {v} in {month}"),
        ("{name} has been a {v} for {n} years", "I've been a {v} for {n} years now")),
        ("what does {name} do for a living?", "what is {name}'s profession?",
         "how does {name} earn money?")),
    Topic("diet", ("a vegetarian diet without eggs", "a vegan diet",
                   "a strict gluten-free diet for coeliac disease", "a pescatarian diet",
                   "a dairy-free diet", "a halal diet", "a low-sugar diet"), (
        ("{name} has followed {v} since {year}", "I've followed {v} since {year}"),
        ("{name} sticks to {v}", "I stick to {v}, please remember that"),
        ("{name} switched to {v} after a health scare",
         "I switched to {v} after a health scare")),
        ("does {name} follow any special way of eating?", "is there anything {name} won't eat?",
         "what should I keep in mind when cooking for {name}?")),
    Topic("pet", ("a grey cat called Miso", "a beagle named Pepper", "two goldfish",
                  "a green parrot named Kiwi", "an old labrador called Bruno",
                  "a rabbit named Toffee", "a tortoise called Speedy",
                  "a rescue greyhound named Comet", "a hamster called Biscuit"), (
        ("{name} adopted {v} last {season}", "I adopted {v} last {season}"),
        ("{name} shares the flat with {v}", "I share my flat with {v}"),
        ("{name} looks after {v}", "I look after {v} at home")),
        ("does {name} have any animals?", "what pet does {name} own?",
         "what creature lives with {name}?")),
    Topic("hobby", ("playing the cello in an amateur orchestra", "bouldering at the climbing gym",
                    "painting watercolour landscapes", "running half marathons",
                    "building model railways", "growing tomatoes on the balcony",
                    "playing chess online", "throwing pots at a pottery studio",
                    "birdwatching by the lake", "knitting jumpers", "restoring old bicycles"), (
        ("{name} spends most weekends {v}", "I spend most weekends {v}"),
        ("{name}'s favourite pastime is {v}", "My favourite pastime is {v}"),
        ("{name} has got really into {v} lately", "I've got really into {v} lately")),
        ("what does {name} do in their free time?", "what is {name}'s hobby?",
         "how does {name} like to unwind?")),
    Topic("birthday", ("{day} {month}",), (
        ("{name} was born on {v} {year}", "I was born on {v} {year}"),
        ("{name}'s birthday is on {v}", "My birthday is on {v}"),
        ("{name} turns {age} on {v}", "I turn {age} on {v}")),
        ("when is {name}'s birthday?", "what is {name}'s date of birth?",
         "on which day should I send {name} a card?")),
    Topic("sibling", ("a sister called {sib} who is a dentist",
                      "a younger brother, {sib}, who studies law",
                      "an older sister named {sib} who lives abroad", "a twin brother, {sib}"), (
        ("{name} has {v}", "I have {v}"),
        ("{name} grew up with {v}", "I grew up with {v}")),
        ("does {name} have any siblings?", "who is {name}'s brother or sister?",
         "what is the name of {name}'s sibling?")),
    Topic("vehicle", ("an old red Volvo estate", "a silver hybrid hatchback",
                      "a blue electric scooter", "a white camper van", "a black motorbike",
                      "a second-hand green Fiat"), (
        ("{name} drives {v}", "I drive {v}"),
        ("{name} bought {v} in {month}", "I bought {v} in {month}"),
        ("{name} still owns {v}", "I still have {v}")),
        ("what car does {name} have?", "what vehicle does {name} own?",
         "what does {name} get around in?")),
    Topic("allergy", ("peanuts", "penicillin", "cat hair", "bee stings", "shellfish", "pollen",
                      "latex", "strawberries"), (
        ("{name} is allergic to {v}", "I'm allergic to {v}"),
        ("{name} carries antihistamines because of {v}",
         "I carry antihistamines because of {v}"),
        ("{name} ended up in hospital once after contact with {v}",
         "I ended up in hospital once because of {v}")),
        ("does {name} have any allergies?", "what is {name} allergic to?",
         "what could cause {name} a bad reaction?")),
    Topic("language", ("Japanese", "Portuguese", "Korean", "Italian", "Arabic", "Finnish",
                       "Greek", "Swahili", "Dutch"), (
        ("{name} is learning {v} with an app every morning",
         "I'm learning {v} with an app every morning"),
        ("{name} signed up for evening classes in {v}", "I signed up for evening classes in {v}"),
        ("{name} practises {v} with a tutor on {weekday}s",
         "I practise {v} with a tutor on {weekday}s")),
        ("which language is {name} studying?", "what foreign tongue is {name} picking up?",
         "what is {name} trying to become fluent in?")),
    Topic("team", ("the Rovers", "Benfica", "the Celtics", "the Blue Jays", "Borussia Dortmund",
                   "the local rugby club", "the All Blacks"), (
        ("{name} is a huge fan of {v}", "I'm a huge fan of {v}"),
        ("{name} has a season ticket for {v}", "I've had a season ticket for {v} for years"),
        ("{name} never misses a match of {v}", "I never miss a match of {v}")),
        ("which team does {name} support?", "what club does {name} cheer for?",
         "who does {name} root for in sport?")),
    Topic("music", ("old jazz records", "Brazilian bossa nova", "heavy metal",
                    "baroque harpsichord music", "80s synth pop", "country ballads", "k-pop",
                    "Irish folk"), (
        ("{name} listens to {v} all day", "I listen to {v} all day"),
        ("{name} collects vinyl of {v}", "I collect vinyl of {v}"),
        ("{name} went to three concerts of {v} this year",
         "I went to three concerts of {v} this year")),
        ("what music does {name} like?", "what kind of songs does {name} enjoy?",
         "what does {name} put on the stereo?")),
    Topic("education", ("marine biology", "civil engineering", "art history", "nursing",
                        "economics", "computer science", "philosophy", "chemistry"), (
        ("{name} studied {v} at university", "I studied {v} at university"),
        ("{name} has a degree in {v} from {city}", "I got my degree in {v} in {city}"),
        ("{name} did a master's in {v}", "I did a master's in {v}")),
        ("what did {name} study?", "what was {name}'s major in college?",
         "which subject is {name} qualified in?")),
    Topic("trip", ("Japan", "Peru", "Iceland", "Morocco", "Vietnam", "Norway", "Mexico",
                   "Greece", "Canada", "New Zealand"), (
        ("{name} is flying to {v} in {month} to visit friends",
         "I'm flying to {v} in {month} to visit friends"),
        ("{name} booked a two-week holiday in {v}", "I booked two weeks away in {v}"),
        ("{name} is saving up for a trip to {v} next {season}",
         "I'm saving up for a trip to {v} next {season}")),
        ("where is {name} travelling next?", "what holiday does {name} have planned?",
         "which country will {name} visit soon?")),
    Topic("partner", ("{partner}",), (
        ("{name} married {v} in {year}", "I married {v} in {year}"),
        ("{name} has been with {v} for {n} years", "{v} and I have been together {n} years"),
        ("{name} shares a house with their partner {v}", "My partner {v} and I share a house")),
        ("who is {name}'s partner?", "is {name} married?",
         "who is {name} in a relationship with?")),
    Topic("kids", ("two daughters, aged {a} and {b}", "a son who just started school",
                   "three kids under ten", "a baby girl born in {month}",
                   "twin boys aged {a}"), (
        ("{name} has {v}", "I have {v}"),
        ("{name} is raising {v}", "I'm raising {v}")),
        ("does {name} have children?", "how many kids does {name} have?",
         "is {name} a parent?")),
    Topic("food", ("ramen", "mushroom risotto", "fish tacos", "lamb tagine", "pad thai",
                   "cheese fondue", "spinach pie", "chicken curry"), (
        ("{name}'s favourite dish is {v}", "My favourite dish is {v}"),
        ("{name} orders {v} whenever we eat out", "I order {v} whenever we eat out"),
        ("{name} could eat {v} every day", "I could eat {v} every single day")),
        ("what is {name}'s favourite meal?", "what food does {name} love most?",
         "what should I order for {name} as a treat?")),
    Topic("appointment", ("the dentist", "the eye doctor", "a physiotherapist",
                          "the bank about a mortgage", "a recruiter for a job interview"), (
        ("{name} is seeing {v} on {weekday}", "I'm seeing {v} on {weekday}"),
        ("{name} booked a slot with {v} for {day} {month}",
         "I booked a slot with {v} for {day} {month}")),
        ("what appointment does {name} have coming up?", "when is {name}'s next booking?",
         "who is {name} meeting soon?")),
    Topic("fear", ("heights", "spiders", "deep water", "flying", "thunderstorms", "needles",
                   "the dark"), (
        ("{name} is terrified of {v}", "I'm terrified of {v}"),
        ("{name} has had a phobia of {v} since childhood",
         "I've had a phobia of {v} since I was a kid"),
        ("{name} avoids anything involving {v}", "I avoid anything involving {v}")),
        ("what is {name} scared of?", "does {name} have any phobias?",
         "what frightens {name}?")),
    Topic("drink", ("three cups of black coffee", "a pot of green tea", "an oat milk latte",
                    "a glass of hot lemon water", "a double espresso"), (
        ("{name} starts every day with {v}", "I start every day with {v}"),
        ("{name} can't get going without {v} in the morning",
         "I can't get going without {v} in the morning")),
        ("what does {name} drink in the morning?", "how does {name} begin the day?",
         "what is {name}'s breakfast beverage?")),
)

# Small talk and notes that answer none of the questions above.
_CHAT_FILLER = (
    "Thanks, that's really helpful.", "Can you remind me to call the plumber tomorrow?",
    "What a week it has been.", "Haha, that's exactly what I thought.",
    "I'll think about it and let you know.", "The new season of that detective show is out.",
    "Could you draft a short email to the landlord about the broken heater?",
    "I finally fixed the squeaky door hinge.", "My phone battery dies so quickly lately.",
    "I need to renew my passport before it expires.", "Let's pick this up again tomorrow.",
    "I found a great podcast about ancient Rome.",
    "The neighbours are renovating again, it's so noisy.",
    "I keep forgetting to water the plants.", "Remind me what we said about the budget sheet?",
    "The printer at the library jammed twice today.", "I lost my umbrella on the tram.",
    "Can you summarise that article for me later?", "I should really clean out the garage.",
)
_ASSISTANT_FILLER = (
    "Sure, I'll remember that.", "That sounds lovely!", "Here is a draft you could send.",
    "Good luck with it!", "Noted. Anything else?", "I'm sorry to hear that.",
    "That's a great idea.", "Let me know how it goes.", "Of course, happy to help.",
)
_NOTE_FILLER = (
    "Buy batteries for the smoke alarm.", "Pay the electricity bill by Friday.",
    "Return the library books.", "Book the car in for its service.",
    "Ask the landlord about the leaking tap.", "Renew the home insurance in spring.",
    "Back up the photos from the old laptop.", "Order more printer ink.",
)
_UNRELATED = (
    "what's the weather in Tokyo today?", "how tall is Mount Everest?",
    "who painted the Mona Lisa?", "what is the capital of Australia?",
    "how do I reset my wifi router?", "what time does the post office close on Saturdays?",
    "how many ounces are in a pound?", "who won the world chess championship in 1972?",
    "how far is the Moon from the Earth?", "when was the Eiffel Tower built?",
    "how do you say thank you in German?", "who wrote Pride and Prejudice?",
    "what's the exchange rate of the euro to the dollar?", "how do I remove a red wine stain?",
    "what is the speed of light?", "how many players are on a volleyball team?",
)
_RELATIONS = ("My friend ", "My colleague ", "My neighbour ", "My cousin ", "")


def _statement(topic: Topic, person: str, value: str, style: str, owner: str,
               relation: dict[str, str], rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One memory stating ``person``'s ``value`` on ``topic``: the owner in their own voice
    in a chat, otherwise about the person (in a chat, said by the owner naming the friend by
    relation)."""
    about, by_self = rng.choice(topic.said)
    if style == "chat" and person == owner:
        return _fill(by_self, rng, v=value), {"speaker": owner}
    text = _fill(about, rng, name=person, v=value)
    if style != "chat":
        return text, {}
    return relation[person] + text, {"speaker": owner}


def _fill(template: str, rng: random.Random, **known: str) -> str:
    slots = {
        "month": rng.choice(_MONTHS), "year": str(rng.randint(2008, 2024)),
        "season": rng.choice(_SEASONS), "weekday": rng.choice(_WEEKDAYS),
        "n": str(rng.randint(2, 15)), "day": str(rng.randint(1, 28)),
        "age": str(rng.randint(25, 60)), "city": rng.choice(_CITIES),
        "partner": rng.choice(_PARTNERS), "sib": rng.choice(_SIBLINGS),
        "a": str(rng.randint(3, 9)), "b": str(rng.randint(10, 16)),
    }
    slots.update(known)
    return template.format(**slots)


def _store(rng: random.Random, name: str, lone: bool = False) -> LabelledConversation:
    style = rng.choice(("notes", "chat"))
    people = rng.sample(_NAMES, rng.choice((1, 1, 2, 2, 3, 4)))
    owner = people[0]
    relation = {p: rng.choice(_RELATIONS) for p in people}  # how the owner names each friend
    facts: list[tuple[str, Topic, str, dict[str, Any]]] = []  # (person, topic, text, meta)
    for person in people:
        for topic in rng.sample(TOPICS, rng.randint(2, 6)):
            value = _fill(rng.choice(topic.values), rng)
            text, meta = _statement(topic, person, value, style, owner, relation, rng)
            facts.append((person, topic, text, meta))
    n_fill = rng.randint(0, max(0, min(50 - len(facts), 3 * len(facts))))
    fill: list[tuple[str, dict[str, Any]]]  # drawn without repeats: no duplicate texts
    if style == "chat":
        n_user = min(len(_CHAT_FILLER), round(0.6 * n_fill))
        n_asst = min(len(_ASSISTANT_FILLER), n_fill - n_user)
        fill = [(t, {"speaker": owner}) for t in rng.sample(_CHAT_FILLER, n_user)] + \
            [(t, {"speaker": "assistant"}) for t in rng.sample(_ASSISTANT_FILLER, n_asst)]
    else:
        fill = [(t, {}) for t in rng.sample(_NOTE_FILLER, min(n_fill, 6))]
    entries: list[tuple[str, dict[str, Any], int | None]] = \
        [(t, m, i) for i, (_, _, t, m) in enumerate(facts)] + [(t, m, None) for t, m in fill]
    rng.shuffle(entries)
    spare = [t for t in _NOTE_FILLER if t not in {e[0] for e in entries}]
    while len(entries) < 3:  # a store holds at least three memories
        entries.append((spare.pop(rng.randrange(len(spare))), {}, None))
    when = datetime(2023, 1, 1) + timedelta(days=rng.randint(0, 500))
    items: list[dict[str, Any]] = []
    mid_of_fact: dict[int, str] = {}
    side = random.Random(f"{name}:lone")  # (its own draws: the rest is what it was)
    for j, (text, meta, fact_index) in enumerate(entries):
        when += timedelta(minutes=rng.randint(1, 600))
        mid = f"{name}:{j}"
        if fact_index is not None:
            mid_of_fact[fact_index] = mid
        item: dict[str, Any] = {"text": text, "user": name, "time": when,
                                "metadata": {MID: mid, **meta}}
        # (lone: the notes, and half a chat's facts, outside any session)
        if not lone or (style == "chat" and (fact_index is None or side.random() < 0.5)):
            item["session"] = f"chat-{j // 10 + 1}" if style == "chat" else "notes"
        items.append(item)
    updated = _updates(name, style, owner, relation, facts, items, mid_of_fact)
    questions: list[LabelledQuestion] = []
    for i, (person, topic, _, _) in enumerate(facts):
        if i in updated:  # asked about the current value: the update is the evidence
            for a, ask in enumerate(topic.asks):
                questions.append(LabelledQuestion(
                    qid=f"{name}:{i}:{a}", text=ask.format(name=person), qtype="update",
                    evidence=frozenset({updated[i]}),
                    extra={"topic": topic.key, "ask": a, "person": person, "style": style,
                           "original_info": [mid_of_fact[i]],
                           "updated_info": [updated[i]]}))
            continue
        for a, ask in enumerate(topic.asks):
            questions.append(LabelledQuestion(
                qid=f"{name}:{i}:{a}", text=ask.format(name=person), qtype="fact",
                evidence=frozenset({mid_of_fact[i]}),
                extra={"topic": topic.key, "ask": a, "person": person, "style": style}))
    for u, text in enumerate(rng.sample(_UNRELATED, 2)):
        questions.append(LabelledQuestion(qid=f"{name}:general:{u}", text=text,
                                          qtype="unrelated_general", evidence=frozenset(),
                                          answerable=False, extra={"style": style}))
    stored = {t.key for _, t, _, _ in facts}
    absent = [t for t in TOPICS if t.key not in stored]
    for u, topic in enumerate(rng.sample(absent, min(2, len(absent)))):
        person = rng.choice(people)
        questions.append(LabelledQuestion(
            qid=f"{name}:absent:{u}", text=rng.choice(topic.asks).format(name=person),
            qtype="unrelated_absent", evidence=frozenset(), answerable=False,
            extra={"topic": topic.key, "person": person, "style": style}))
    return LabelledConversation(name, items, questions, source="small-lone" if lone else "small")


# topics whose value changes over a life (a move, a new job, a new car); each such fact is
# updated with UPDATE_SHARE probability
CHANGEABLE = ("home", "job", "diet", "hobby", "vehicle", "drink", "team", "music")
UPDATE_SHARE = 0.25


def _updates(name: str, style: str, owner: str, relation: dict[str, str],
             facts: list[tuple[str, Topic, str, dict[str, Any]]], items: list[dict[str, Any]],
             mid_of_fact: dict[int, str]) -> dict[int, str]:
    """Facts that change: for some facts on a ``CHANGEABLE`` topic, a later memory (20-400
    days on) says the same kind of thing with another value, in the same voice and with no
    word that marks it as a change; only time tells which is current. Appended to ``items``;
    returns fact index -> the update's id. Drawn from their own generator (seeded by the
    store's name), so the rest of the store is what it was without updates."""
    rng = random.Random(f"{name}:updates")
    at = {it["metadata"][MID]: it for it in items}
    out: dict[int, str] = {}
    for i, (person, topic, _, _) in enumerate(facts):
        if topic.key not in CHANGEABLE or rng.random() >= UPDATE_SHARE:
            continue
        old = at[mid_of_fact[i]]
        value = _fill(rng.choice(topic.values), rng)
        if value in old["text"]:
            continue
        text, meta = _statement(topic, person, value, style, owner, relation, rng)
        mid = f"{name}:u{i}"
        item = {"text": text, "user": name,
                "time": old["time"] + timedelta(days=rng.randint(20, 400),
                                                minutes=rng.randint(0, 600)),
                "metadata": {MID: mid, **meta}}
        if "session" in items[-1]:
            item["session"] = items[-1]["session"]
        items.append(item)
        out[i] = mid
    return out


def make_small(seed: int = 0, stores: int = 40, *, lone: bool = False
               ) -> list[LabelledConversation]:
    """``stores`` small stores (3-50 memories each) with their questions; the same seed always
    gives the same stores. Seed 0 is the benchmark; train on other seeds.

    ``lone``: the notes are lone memories, as an application adds single notes through
    ``add`` (no session, so no neighbours and no session of others), and so is each of a
    chat's facts with probability 1/2 (a chat with notes beside it);
    drawn from a generator of their own (other stores than ``make_small(seed)``'s, named
    ``small-lone-s{seed}-NN``, source ``small-lone``), for training (``ltm train ranker --data
    small-lone:1-3``): the benchmark's stores hold no lone memory."""
    if lone:
        rng = random.Random(1_000_003 * seed + 17 + 500_009)
        return [_store(rng, f"small-lone-s{seed}-{i:02d}", lone=True) for i in range(stores)]
    rng = random.Random(1_000_003 * seed + 17)
    return [_store(rng, f"small-s{seed}-{i:02d}") for i in range(stores)]


def score(answers: list[Answer]) -> dict[str, Any]:
    """P@1, MRR (over answerable questions), abstention AUROC, latency; also per style."""
    def quality(sub: list[Answer]) -> dict[str, Any]:
        ok = [a for a in sub if a.question.answerable]
        floor = float("-inf")
        pos = [a.top if a.top is not None else floor for a in ok]
        neg = [a.top if a.top is not None else floor for a in sub if not a.question.answerable]
        return {"p_at_1": round(mean([precision_at_1(a.ranked, a.question.evidence)
                                      for a in ok]), 4),
                "mrr": round(mean([reciprocal_rank(a.ranked, a.question.evidence)
                                   for a in ok]), 4),
                "abstention_auroc": round(auroc(pos, neg), 4) if pos and neg else float("nan"),
                "questions": len(ok), "unrelated": len(neg)}

    lat = [a.ms for a in answers]
    out = quality(answers)
    styles = {s: [a for a in answers if a.question.extra.get("style") == s]
              for s in ("notes", "chat")}
    out["by_style"] = {s: quality(sub) for s, sub in styles.items() if sub}
    upd = [a for a in answers if a.question.qtype == "update"]
    orders = [update_first(a.ranked, a.question.extra["original_info"],
                           a.question.extra["updated_info"]) for a in upd]
    out["update_order"] = round(mean([1.0 if o else 0.0 for o in orders if o is not None]), 4)
    out["update_questions"] = len(upd)
    out["p_at_1_fact"] = round(mean([precision_at_1(a.ranked, a.question.evidence)
                                     for a in answers if a.question.qtype == "fact"]), 4)
    ok = [a for a in answers if a.question.answerable]
    general = [a.top if a.top is not None else float("-inf") for a in answers
               if a.question.qtype == "unrelated_general"]
    absent = [a.top if a.top is not None else float("-inf") for a in answers
              if a.question.qtype == "unrelated_absent"]
    pos = [a.top if a.top is not None else float("-inf") for a in ok]
    out["abstention_auroc_general"] = round(auroc(pos, general), 4) if pos and general \
        else float("nan")
    out["abstention_auroc_absent_topic"] = round(auroc(pos, absent), 4) if pos and absent \
        else float("nan")
    out["search_ms_p50"] = round(percentile(lat, 50), 3) if lat else float("nan")
    out["search_ms_p95"] = round(percentile(lat, 95), 3) if lat else float("nan")
    return out


def run(*, seed: int = 0, stores: int = 40, embedder: str | None = None,
        settings_overrides: dict[str, Any] | None = None, progress: bool = True
        ) -> dict[str, Any]:
    convs = make_small(seed, stores)
    load_start = list(os.getloadavg())
    rep = replay(convs, embedder=embedder, settings_overrides=settings_overrides, k=20,
                 progress=progress)
    sizes = [len(c.items) for c in convs]
    return {
        "seed": seed, "embedder": rep["embedder"], "stores": len(convs),
        "memories": rep["items"], "store_size_min": min(sizes), "store_size_max": max(sizes),
        "questions": sum(len(c.questions) for c in convs),
        "abstention_signal": rep["signal"], "settings": rep["settings"],
        "systems": {name: score(ans) for name, ans in rep["answers"].items()},
        "cpu_count": os.cpu_count(), "load_average_at_start": load_start,
        "load_average_at_end": list(os.getloadavg()),
    }


def markdown(result: dict[str, Any]) -> str:
    s = result["systems"]
    at = f" at {result['commit']}" if result.get("commit") else ""
    lines = [f"## Retrieval quality: small stores ({result['embedder']})", "",
             f"`ltm bench small` — {result['stores']} stores of {result['store_size_min']}-"
             f"{result['store_size_max']} memories written by `ltm.bench.small.make_small("
             f"seed={result['seed']})` (people's facts as notes or as a chat, each fact asked "
             "three ways, plus unrelated questions), the three systems on one ingest in one "
             f"run{at}. {result['questions']} questions. P@1 and MRR over the answerable "
             "questions; update order: the share of the "
             f"{s[next(iter(s))].get('update_questions', 0)} questions about a fact that "
             "changed whose newest memory ranks above the original; AUROC: the top hit's "
             f"{result.get('abstention_signal', 'score')} separating answerable from unrelated "
             "questions (general ones, and ones about a stored person on a topic never "
             "mentioned).", "",
             "| system | P@1 | MRR | AUROC | AUROC general | AUROC absent topic | "
             "P@1 notes | P@1 chat | update order | search p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in s.items():
        st = r.get("by_style", {})
        lines.append(
            f"| {name} | {r['p_at_1']:.3f} | {r['mrr']:.3f} | {r['abstention_auroc']:.3f} | "
            f"{r['abstention_auroc_general']:.3f} | {r['abstention_auroc_absent_topic']:.3f} | "
            f"{st.get('notes', {}).get('p_at_1', float('nan')):.3f} | "
            f"{st.get('chat', {}).get('p_at_1', float('nan')):.3f} | "
            f"{r.get('update_order', float('nan')):.3f} | "
            f"{r['search_ms_p50']:.2f} | {r['search_ms_p95']:.2f} |")
    return "\n".join(lines) + "\n"
