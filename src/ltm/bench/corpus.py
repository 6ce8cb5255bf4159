"""A seeded synthetic corpus for the scale benchmarks: what people tell an assistant about
their lives (people, places, dates, plans, work, food, health, errands).

Every user gets a persona (home city, partner, friends, colleagues, employer, pet, hobbies);
each memory combines one of ~50 sentence shapes with slots drawn from those personas and from
large shared vocabularies, optional time phrases and trailing clauses, so texts vary widely and
share the long-tailed word statistics of real notes (no repeated template that makes search
trivial). Queries are questions about the same kinds of things, phrased differently from the
memories. Everything is a pure function of the seed: same seed, same corpus, in any process.

Only the standard library is used, so the generator is importable anywhere.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

_FIRST = """Alice Bruno Chen Dana Elif Farid Greta Hugo Ines Jonas Kaito Lena Mateo Nadia Omar
Priya Quinn Rosa Sami Tomas Uma Viktor Wen Ximena Yusuf Zofia Amara Ben Carla Diego Emma Felix
Gabriel Hana Ivan Julia Kofi Lucia Marco Nora Oscar Paula Rafael Sofia Theo Valentina William
Yara Zane Aiko Bilal Chiara Dmitri Esther Fatima Gustavo Helga Ibrahim Jana Karim Leila Miguel
Noor Olga Pedro Rania Stefan Tariq Ursula Vera Wojtek Xavier Yasmin Zeynep Anders Beatriz Cyrus
Daria Emil Freya Giorgio Hiro Ingrid Javier Kira Luca Maya Nikolai Ophelia Pablo Renata Soren
Tanvi Ugo Vikram Wanda Yosef Adele Boris Camille Dev Elena Finn Grace Henrik Isla Jakob Keiko
Lars Mina Nils Orla Pia Ravi Selma Tobias Ulla Vanya Willa Ada Bastian Clara Dario Eva Florian
Gita Hamid Ilse Joaquin Kasia Liam Marta Nikhil Oona Pietro Rhea Sven Thea""".split()
_LAST = """Silva Novak Kim Haddad Okafor Rossi Schmidt Tanaka Dubois Kowalski Andersen Garcia
Ivanova Mendes Costa Yilmaz Nguyen Larsen Moreau Fischer Sato Lopez Petrov Ali Becker Romano
Jensen Torres Weber Ortiz Hansen Park Ferreira Nakamura Kovacs Berg Lindqvist Mahmoud Suzuki
Varga Morales Keller Nilsson Duarte Popescu Horvat Bianchi Wagner Singh Sharma""".split()
_CITIES = """Lisbon Porto Madrid Barcelona Valencia Seville Paris Lyon Marseille Bordeaux Nantes
Brussels Antwerp Amsterdam Rotterdam Utrecht Berlin Hamburg Munich Cologne Leipzig Dresden Vienna
Graz Zurich Geneva Basel Milan Rome Naples Turin Bologna Florence Venice Athens Thessaloniki
Istanbul Izmir Ankara Sofia Bucharest Budapest Prague Brno Warsaw Krakow Gdansk Vilnius Riga
Tallinn Helsinki Stockholm Gothenburg Oslo Bergen Copenhagen Aarhus Dublin Cork Edinburgh Glasgow
Manchester Leeds Bristol London Cardiff Reykjavik Montreal Toronto Vancouver Boston Chicago Denver
Seattle Portland Austin Atlanta Miami Oakland Mexico Oaxaca Bogota Lima Santiago Valparaiso
Buenos Montevideo Cusco Quito Havana Nairobi Accra Lagos Dakar Marrakesh Cairo Tunis Kigali
Tokyo Osaka Kyoto Sapporo Seoul Busan Taipei Hanoi Saigon Bangkok Manila Jakarta Singapore
Mumbai Delhi Bangalore Chennai Kathmandu Colombo Dubai Doha Tbilisi Yerevan Almaty Sydney
Melbourne Auckland Wellington Perth Hobart""".split()
_VENUES = """cafe bakery bookshop museum gallery market park beach harbour library gym pool
cinema theatre brewery vineyard campsite lighthouse castle cathedral garden observatory
zoo aquarium stadium clinic pharmacy bistro tavern noodle-bar ramen-shop taqueria pizzeria
climbing-hall community-centre co-working-space train-station airport ferry-terminal
farmers-market flea-market record-store bike-shop hardware-store""".split()
_ADJ = """quiet crowded tiny huge old new cosy noisy beautiful rainy sunny windy lovely awful
chaotic calm expensive cheap charming dusty bright hidden famous local family-run rooftop
lakeside riverside hilltop downtown seaside""".split()
_ACTIVITIES = """hiking running cycling swimming climbing surfing sailing kayaking skiing yoga
pilates boxing chess painting pottery knitting baking gardening birdwatching photography
woodworking singing choir salsa tango guitar piano violin drums reading journaling
meditation camping fishing tennis badminton volleyball football basketball rowing
archery calligraphy origami sketching""".split()
_FOODS = """ramen sushi tapas paella pho curry dumplings tacos burritos lasagna risotto
falafel hummus shakshuka pierogi goulash fondue croissants bagels pancakes waffles
kimchi bibimbap dim-sum empanadas ceviche moussaka souvlaki baklava tiramisu gelato
cheesecake brownies sourdough pad-thai laksa biryani dosa injera jollof poke""".split()
_JOBS = """nurse teacher architect accountant designer developer engineer chef pharmacist
lawyer journalist translator librarian electrician plumber researcher photographer
dentist veterinarian physiotherapist data-analyst project-manager product-manager
carpenter baker florist pilot paramedic social-worker economist""".split()
_ORGS = """Acme Northwind Globex Initech Umbrella Stark Wayne Tyrell Cyberdyne Hooli
Vandelay Soylent Wonka Oscorp Aperture Gringotts Monarch Dunder Prestige Blue-Harbor
Red-Maple Green-Fern Silverline Brightpath Ironwood Quartz Lumen Nimbus Sparrow Kestrel""".split()
_PETS = """dog cat rabbit parrot hamster tortoise goldfish ferret gecko horse""".split()
_PET_NAMES = """Biscuit Pepper Luna Milo Mochi Olive Pixel Rex Saffron Tofu Waffles Ziggy
Noodle Clementine Bean Juniper Pickles Maple Socks Shadow""".split()
_RELATIONS = """sister brother mother father cousin aunt uncle grandmother grandfather niece
nephew daughter son""".split()
_OBJECTS = """passport laptop keys wallet umbrella bicycle camera phone charger headphones
guitar tent backpack sunglasses watch notebook jacket boots scarf suitcase""".split()
_MONTHS = """January February March April May June July August September October November
December""".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_FEELINGS = """thrilled exhausted nervous relieved proud anxious grateful bored excited
disappointed calm overwhelmed hopeful curious homesick""".split()
_HEALTH = ["a sore knee", "a migraine", "a cold", "back pain", "an allergy", "a sprained ankle",
           "insomnia", "a toothache", "a rash", "the flu", "a stiff neck", "hay fever"]
_ERRANDS = ["renew the passport", "pay the electricity bill", "book a dentist appointment",
            "return the library books", "fix the leaking tap", "call the insurance company",
            "buy a birthday present", "file the tax return", "cancel the gym membership",
            "repaint the bedroom", "replace the bike tyre", "pick up the dry cleaning",
            "water the neighbours' plants", "send the rent transfer", "order new glasses"]
_WHEN = ["yesterday", "last week", "this morning", "on {day}", "last {day}", "next {day}",
         "in {month}", "last {month}", "on {day} evening", "two weeks ago", "over the weekend",
         "tomorrow", "at the end of {month}", "early in {month}", "{num} days ago",
         "after work on {day}", "before lunch", "on the {ord} of {month}"]
_TAIL = ["", "", "", "", " and it was {adj}", " because {name} recommended it",
         " and I felt {feeling}", " which took longer than expected", " with {name} from work",
         " and we stayed until late", " though it rained the whole time",
         " and I want to go back soon", " but I forgot my {object}",
         " and it cost about {num} euros", " and {name} loved it"]
_ORD = ["1st", "2nd", "3rd", "4th", "5th", "8th", "10th", "12th", "15th", "19th", "21st",
        "23rd", "28th", "30th"]

# Memory shapes. {when} is a time phrase, {tail} an optional clause; the rest are slots.
_SHAPES = [
    "I moved to {city} {when}{tail}",
    "{When} I had dinner with {friend} at a {adj} {venue} in {city}{tail}",
    "My {relation} {relname} is visiting from {city2} {when}",
    "{friend} told me they are moving to {city2} in {month}",
    "I started a new job as a {job} at {org} {when}",
    "Our team at {org} is launching the {project} project in {month}",
    "I have a meeting with {colleague} about the {project} budget on {day}",
    "Planning a trip to {city2} with {partner} for {month}{tail}",
    "Booked flights to {city2} for the {ord} of {month}",
    "I went {activity} near {city} {when}{tail}",
    "{When} I tried {activity} for the first time{tail}",
    "I'm learning {activity} on {day} evenings with {friend}",
    "{partner} and I cooked {food} {when}{tail}",
    "The best {food} I ever had was at a {adj} {venue} in {city2}",
    "I don't eat {food2} anymore since {month}",
    "My {pet} {petname} had to go to the vet {when}{tail}",
    "{petname} the {pet} learned a new trick {when}",
    "I need to {errand} before {day}",
    "Reminder: {errand} by the end of {month}",
    "I lost my {object} at the {venue} {when}{tail}",
    "I finally found my {object} under the sofa",
    "I've had {health} since {day} and I'm seeing a doctor on {day2}",
    "{friend}'s birthday is on the {ord} of {month}, they like {food}",
    "My {relation}'s wedding is in {city2} in {month}",
    "{When} {friend} and I watched a film at the {adj} cinema in {city}",
    "I'm reading a book about {activity} that {friend} lent me",
    "I've been feeling {feeling} about the move to {city2}",
    "We adopted a {pet} called {petname} {when}",
    "{colleague} from {org} is leaving for a job in {city2}",
    "My salary review at {org} is scheduled for {month}",
    "{partner} wants to spend {month} in {city2} next year",
    "I signed up for a {activity} class at the community centre in {city}",
    "The {venue} on my street in {city} closed {when}",
    "Renting a car in {city2} cost {num} euros for {num2} days",
    "I met {name} {last} at a {activity} meetup in {city}{tail}",
    "{When} I fixed my {object} with help from {friend}",
    "I prefer {food} over {food2} and {partner} thinks that is strange",
    "{friend} recommended a {adj} {venue} in {city2} for {food}",
    "My {relation} {relname} started working as a {job} in {city2}",
    "I ran {num2} kilometres along the river {when}{tail}",
    "We are hosting a {food} night for {friend} and {friend2} on {day}",
    "I keep forgetting to call {relname} back about {month}",
    "{When} the train to {city2} was cancelled so I took the bus",
    "I gave a talk about the {project} project at {org} {when}",
    "Our flat in {city} needs a new {object2} before winter",
    "I promised {friend} to help with their move on {day}",
    "{partner}'s parents live in {city2} and we visit every {month}",
    "I want to learn {activity} before turning {age}",
    "Dentist said I should come back in {month}",
    "Bought a {adj} {object} at the flea market in {city}",
]
_QUESTIONS = [
    "where did I move to", "who did I have dinner with in {city}", "when is {friend}'s birthday",
    "what is my {relation} doing now", "trip plans with {partner}", "flights to {city2}",
    "what did {colleague} say about the {project} budget", "new job at {org}",
    "where did I go {activity}", "what food does {friend} like", "vet visit for {petname}",
    "things I need to do before {day}", "where did I lose my {object}",
    "doctor appointment for {health}", "wedding in {month}", "best {food} I ever had",
    "who recommended a {venue} in {city2}", "{activity} classes", "when are we visiting {city2}",
    "what did I cook with {partner}", "who is leaving {org}", "salary review date",
    "car rental in {city2}", "how far did I run", "did I call {relname} back",
    "cancelled train to {city2}", "talk about the {project} project", "what happened in {month}",
    "meetup in {city}", "what does {partner} want to do next year", "pet named {petname}",
    "restaurants in {city}", "plans for {month}", "errands this week", "how am I feeling lately",
]
_PROJECTS = """Atlas Beacon Cobalt Delta Ember Falcon Granite Helix Indigo Juniper Keystone
Lattice Meridian Nova Orion Pioneer Quasar Radiant Summit Tundra""".split()


@dataclass(frozen=True)
class Persona:
    name: str
    city: str
    partner: str
    friends: tuple[str, ...]
    colleagues: tuple[str, ...]
    relatives: tuple[tuple[str, str], ...]
    org: str
    job: str
    pet: str
    petname: str
    project: str


@dataclass(frozen=True)
class Item:
    """One synthetic memory: its user, session, time (epoch seconds) and text."""

    user: str
    session: str
    time: int
    text: str


def user_name(u: int) -> str:
    return f"user-{u:05d}"


class Corpus:
    """``n`` memories spread over ``users`` users, a pure function of ``seed``.

    Memories are generated user by user in sessions of a few to a few dozen turns; ``items``
    interleaves users in the order a busy service would see them (round robin in chunks), so
    a batch of 1,000 holds many users' memories, as ingest from many conversations would.
    """

    def __init__(self, n: int, users: int, seed: int = 0, *, start: int = 1_672_531_200) -> None:
        if n < 1 or users < 1:
            raise ValueError("n and users must be >= 1")
        self.n = n
        self.users = min(users, n)
        self.seed = seed
        self.start = start  # 2023-01-01 UTC: memories span two years from here

    def persona(self, u: int) -> Persona:
        rng = random.Random(f"{self.seed}:persona:{u}")
        names = rng.sample(_FIRST, 9)
        return Persona(
            name=names[0], city=rng.choice(_CITIES), partner=names[1],
            friends=tuple(names[2:6]), colleagues=tuple(names[6:9]),
            relatives=tuple((rng.choice(_RELATIONS), rng.choice(_FIRST)) for _ in range(3)),
            org=rng.choice(_ORGS), job=rng.choice(_JOBS), pet=rng.choice(_PETS),
            petname=rng.choice(_PET_NAMES), project=rng.choice(_PROJECTS))

    def count_for(self, u: int) -> int:
        """How many memories user ``u`` has (sizes differ by at most one)."""
        base, extra = divmod(self.n, self.users)
        return base + (1 if u < extra else 0)

    def user_items(self, u: int) -> Iterator[Item]:
        rng = random.Random(f"{self.seed}:user:{u}")
        p = self.persona(u)
        user = user_name(u)
        left = self.count_for(u)
        t = self.start + rng.randrange(0, 86_400 * 30)
        s = 0
        while left > 0:
            turns = min(left, rng.randint(3, 40))
            session = f"s{u:05d}-{s:04d}"
            for _ in range(turns):
                t += rng.randint(20, 600)
                yield Item(user, session, t, _fill(rng, rng.choice(_SHAPES), p))
            left -= turns
            s += 1
            t += rng.randint(3_600, 86_400 * 4)

    def items(self, chunk: int = 7) -> Iterator[Item]:
        """All ``n`` memories, users interleaved ``chunk`` memories at a time."""
        gens = [self.user_items(u) for u in range(self.users)]
        while gens:
            alive = []
            for g in gens:
                took = 0
                for item in g:
                    yield item
                    took += 1
                    if took == chunk:
                        alive.append(g)
                        break
            gens = alive

    def queries(self, count: int, seed: int = 1) -> list[tuple[str, str]]:
        """``count`` (user, question) pairs, users drawn uniformly, reproducible."""
        rng = random.Random(f"{self.seed}:queries:{seed}")
        out = []
        for _ in range(count):
            u = rng.randrange(self.users)
            out.append((user_name(u), _fill(rng, rng.choice(_QUESTIONS), self.persona(u))))
        return out


def _fill(rng: random.Random, shape: str, p: Persona) -> str:
    rel, relname = rng.choice(p.relatives)
    values = {
        "city": p.city if rng.random() < 0.6 else rng.choice(_CITIES),
        "city2": rng.choice(_CITIES), "friend": rng.choice(p.friends),
        "friend2": rng.choice(p.friends), "colleague": rng.choice(p.colleagues),
        "partner": p.partner, "relation": rel, "relname": relname,
        "name": rng.choice(_FIRST), "last": rng.choice(_LAST), "org": p.org,
        "job": rng.choice(_JOBS), "project": p.project if rng.random() < 0.7
        else rng.choice(_PROJECTS), "activity": rng.choice(_ACTIVITIES),
        "food": rng.choice(_FOODS), "food2": rng.choice(_FOODS), "venue": _word(rng, _VENUES),
        "adj": rng.choice(_ADJ), "pet": p.pet, "petname": p.petname,
        "errand": rng.choice(_ERRANDS), "object": rng.choice(_OBJECTS),
        "object2": rng.choice(_OBJECTS), "health": rng.choice(_HEALTH),
        "feeling": rng.choice(_FEELINGS), "month": rng.choice(_MONTHS),
        "day": rng.choice(_DAYS), "day2": rng.choice(_DAYS), "ord": rng.choice(_ORD),
        "num": str(rng.randint(2, 900)), "num2": str(rng.randint(2, 42)),
        "age": str(rng.randint(25, 70)),
    }
    if "{when}" in shape or "{When}" in shape:
        when = rng.choice(_WHEN).format(day=rng.choice(_DAYS), month=rng.choice(_MONTHS),
                                        num=rng.randint(2, 20), ord=rng.choice(_ORD))
        values["when"] = when
        values["When"] = when[:1].upper() + when[1:]
    if "{tail}" in shape:
        values["tail"] = rng.choice(_TAIL).format(
            adj=rng.choice(_ADJ), name=rng.choice(p.friends), feeling=rng.choice(_FEELINGS),
            object=rng.choice(_OBJECTS), num=rng.randint(5, 300))
    return shape.format(**values)


def _word(rng: random.Random, words: list[str]) -> str:
    return rng.choice(words).replace("-", " ")
