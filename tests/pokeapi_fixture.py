"""Small, deterministic, schema-faithful PokéAPI CSV tables for tests (no network, no shared data).

``write_csv_fixture(folder, n_pokemon)`` writes every table the CSV source reads, with PokéAPI's real column
headers and real ids/identifiers for the reference tables. Pokémon 1-3 (bulbasaur, ivysaur, venusaur) and the
form 10033 (venusaur-mega) are written by hand and cover the edge cases; Pokémon 4.. are generated from a
seeded RNG (the same rows for a given id whatever ``n_pokemon`` is).

Edge cases covered:
- venusaur-mega (10033): a form with id >= 10001, not default, null base_experience, no moves, no encounters;
- venusaur's species has no habitat (null); ivysaur has no encounters;
- bulbasaur: abilities listed slot-first (65, 34) but ordered by ability_id; encounters in two areas of the same
  location (mt-moon 1f/2f), a repeated area (distinct), an area of a location without region (null region);
  a French flavor text (excluded); flavor texts with ``\\n`` and ``\\x0c``; the same move in two version groups;
- ivysaur's egg groups are listed (plant, monster), not in id order: unordered relations keep file order;
- evolution triggers: ivysaur and venusaur evolve by level-up, generated species by level-up, trade or item;
- pokemon_abilities.csv has CRLF line ends, like upstream; growth_rates.csv has quoted multi-line cells;
- display names: English (and some French) species names, Nidoran♀/♂ with symbols; venusaur-mega's default form
  (form id 10064, not its Pokémon id) named "Mega Venusaur" in English, with a French name listed first.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADERS = {
    "pokemon": "id,identifier,species_id,height,weight,base_experience,order,is_default",
    "pokemon_species": "id,identifier,generation_id,evolves_from_species_id,evolution_chain_id,color_id,shape_id,"
    "habitat_id,gender_rate,capture_rate,base_happiness,is_baby,hatch_counter,has_gender_differences,"
    "growth_rate_id,forms_switchable,is_legendary,is_mythical,order,conquest_order",
    "pokemon_types": "pokemon_id,type_id,slot",
    "types": "id,identifier,generation_id,damage_class_id",
    "pokemon_stats": "pokemon_id,stat_id,base_stat,effort",
    "stats": "id,damage_class_id,identifier,is_battle_only,game_index",
    "pokemon_abilities": "pokemon_id,ability_id,is_hidden,slot",
    "abilities": "id,identifier,generation_id,is_main_series",
    "encounters": "id,version_id,location_area_id,encounter_slot_id,pokemon_id,min_level,max_level",
    "location_areas": "id,location_id,game_index,identifier",
    "locations": "id,region_id,identifier",
    "regions": "id,identifier",
    "pokemon_species_flavor_text": "species_id,version_id,language_id,flavor_text",
    "versions": "id,version_group_id,identifier",
    "pokemon_shapes": "id,identifier",
    "pokemon_habitats": "id,identifier",
    "pokemon_egg_groups": "species_id,egg_group_id",
    "egg_groups": "id,identifier",
    "generations": "id,main_region_id,identifier",
    "growth_rates": "id,identifier,formula",
    "pokemon_colors": "id,identifier",
    "pokemon_evolution": "id,evolved_species_id,evolution_trigger_id,version_group_id,is_default,trigger_item_id,"
    "minimum_level,gender_id,location_id,held_item_id,time_of_day,known_move_id,known_move_type_id,"
    "minimum_happiness,minimum_beauty,minimum_affection,relative_physical_stats,party_species_id,party_type_id,"
    "trade_species_id,needs_overworld_rain,turn_upside_down,needs_multiplayer,near_special_rock,region_id,"
    "base_form_id,evolved_form_id,used_move_id,minimum_move_count,minimum_steps,minimum_damage_taken",
    "evolution_triggers": "id,identifier",
    "pokemon_moves": "pokemon_id,version_group_id,move_id,pokemon_move_method_id,level,order,mastery",
    "moves": "id,identifier,generation_id,type_id,power,pp,accuracy,priority,target_id,damage_class_id,effect_id,"
    "effect_chance,contest_type_id,contest_effect_id,super_contest_effect_id",
    "pokemon_forms": "id,identifier,form_identifier,pokemon_id,introduced_in_version_group_id,is_default,"
    "is_battle_only,is_mega,form_order,order",
    "pokemon_species_names": "pokemon_species_id,local_language_id,name,genus",
    "pokemon_form_names": "pokemon_form_id,local_language_id,form_name,pokemon_name",
}
CRLF_TABLES = ("pokemon_abilities",)

REGIONS = [(1, "kanto"), (2, "johto"), (3, "hoenn")]
GENERATIONS = [(1, 1, "generation-i"), (2, 2, "generation-ii"), (3, 3, "generation-iii")]
TYPES = [
    (1, "normal", 1, 2), (2, "fighting", 1, 2), (3, "flying", 1, 2), (4, "poison", 1, 2), (5, "ground", 1, 2),
    (6, "rock", 1, 2), (7, "bug", 1, 2), (8, "ghost", 1, 2), (9, "steel", 2, 2), (10, "fire", 1, 3),
    (11, "water", 1, 3), (12, "grass", 1, 3), (13, "electric", 1, 3), (14, "psychic", 1, 3), (15, "ice", 1, 3),
    (16, "dragon", 1, 3), (17, "dark", 2, 3), (18, "fairy", 6, ""),
]
STATS = [
    (1, "", "hp", 0, 1), (2, 2, "attack", 0, 2), (3, 2, "defense", 0, 3), (4, 3, "special-attack", 0, 5),
    (5, 3, "special-defense", 0, 6), (6, "", "speed", 0, 4), (7, "", "accuracy", 1, ""), (8, "", "evasion", 1, ""),
]
ABILITIES = [
    (9, "static", 3, 1), (12, "oblivious", 3, 1), (14, "compound-eyes", 3, 1), (19, "shield-dust", 3, 1),
    (22, "intimidate", 3, 1), (24, "rough-skin", 3, 1), (31, "lightning-rod", 3, 1), (33, "swift-swim", 3, 1),
    (34, "chlorophyll", 3, 1), (44, "rain-dish", 3, 1), (47, "thick-fat", 3, 1), (50, "run-away", 3, 1),
    (51, "keen-eye", 3, 1), (61, "shed-skin", 3, 1), (62, "guts", 3, 1), (65, "overgrow", 3, 1),
    (66, "blaze", 3, 1), (67, "torrent", 3, 1), (94, "solar-power", 4, 1), (110, "tinted-lens", 4, 1),
]
MOVES = [
    (10, "scratch", 1, 1, 40, 35, 100, 0, 10, 2, 1, "", 5, 1, 5),
    (14, "swords-dance", 1, 1, "", 20, "", 0, 7, 1, 51, "", 2, 32, 11),
    (15, "cut", 1, 1, 50, 30, 95, 0, 10, 2, 1, "", 1, 14, 5),
    (16, "gust", 1, 3, 40, 35, 100, 0, 10, 3, 150, "", 4, 21, 5),
    (22, "vine-whip", 1, 12, 45, 25, 100, 0, 10, 2, 1, "", 1, 1, 5),
    (33, "tackle", 1, 1, 40, 35, 100, 0, 10, 2, 1, "", 5, 1, 5),
    (39, "tail-whip", 1, 1, "", 30, 100, 0, 11, 1, 20, "", 3, 28, 19),
    (45, "growl", 1, 1, "", 40, 100, 0, 11, 1, 19, "", 3, 28, 19),
    (52, "ember", 1, 10, 40, 25, 100, 0, 10, 3, 5, 10, 2, 1, 5),
    (55, "water-gun", 1, 11, 40, 25, 100, 0, 10, 3, 1, "", 3, 1, 5),
    (73, "leech-seed", 1, 12, "", 10, 90, 0, 10, 1, 85, "", 4, 8, 21),
    (75, "razor-leaf", 1, 12, 55, 25, 95, 0, 11, 2, 44, "", 1, 2, 5),
    (76, "solar-beam", 1, 12, 120, 10, 100, 0, 10, 3, 152, "", 1, 1, 6),
    (77, "poison-powder", 1, 4, "", 35, 75, 0, 10, 1, 67, "", 4, 33, 19),
    (84, "thunder-shock", 1, 13, 40, 30, 100, 0, 10, 3, 7, 10, 1, 1, 5),
    (85, "thunderbolt", 1, 13, 90, 15, 100, 0, 10, 3, 7, 10, 1, 1, 17),
    (93, "confusion", 1, 14, 50, 25, 100, 0, 10, 3, 77, 10, 4, 9, 5),
    (98, "quick-attack", 1, 1, 40, 30, 100, 1, 10, 2, 104, "", 1, 30, 1),
]
LOCATIONS = [
    (80, 1, "mt-moon"), (86, 1, "pallet-town"), (88, 1, "kanto-route-1"), (99, 1, "kanto-route-2"),
    (155, 1, "viridian-forest"), (260, "", "distant-land"),
]
LOCATION_AREAS = [
    (285, 86, 102, ""), (290, 80, 107, "1f"), (291, 80, 108, "2f"), (295, 88, 112, ""),
    (296, 99, 113, "south-towards-viridian-city"), (320, 99, 137, "north-towards-pewter-city"), (321, 155, 138, ""),
    (9001, 260, 0, ""),  # synthetic: an area of a location without region
]
VERSIONS = [
    (1, 1, "red"), (2, 1, "blue"), (3, 2, "yellow"), (4, 3, "gold"), (5, 3, "silver"), (6, 4, "crystal"),
    (7, 5, "ruby"), (8, 5, "sapphire"), (9, 6, "emerald"), (10, 7, "firered"), (11, 7, "leafgreen"),
]
COLORS = ["black", "blue", "brown", "gray", "green", "pink", "purple", "red", "white", "yellow"]
SHAPES = ["ball", "squiggle", "fish", "arms", "blob", "upright", "legs", "quadruped", "wings", "tentacles", "heads",
          "humanoid", "bug-wings", "armor"]
HABITATS = ["cave", "forest", "grassland", "mountain", "rare", "rough-terrain", "sea", "urban", "waters-edge"]
GROWTH_RATES = [
    (1, "slow", "\\frac{5x^3}{4}"), (2, "medium", "x^3"), (3, "fast", "\\frac{4x^3}{5}"),
    (4, "medium-slow", "\\frac{6x^3}{5} - 15x^2 + 100x - 140"),
    (5, "slow-then-very-fast", "\\begin{cases}\n\\frac{ x^3 \\left( 100 - x \\right) }{50}, & x \\leq 50 \\\\\n"
     "\\frac{ x^3 \\left( 160 - x \\right) }{100}, & x > 50 \\\\\n\\end{cases}"),
    (6, "fast-then-very-slow", "\\begin{cases}\n\\frac{ x^3 \\left( 14 + x \\right) }{50}, & x \\leq 35 \\\\\n"
     "\\frac{ x^3 \\left( 32 + x/2 \\right ) }{50}, & x > 35 \\\\\n\\end{cases}"),
]
EGG_GROUPS = ["monster", "water1", "bug", "flying", "ground", "fairy", "plant", "humanshape", "water3", "mineral",
              "indeterminate", "water2", "ditto", "dragon", "no-eggs"]
EVOLUTION_TRIGGERS = ["level-up", "trade", "use-item", "shed"]

# Real generation-I identifiers for the generated Pokémon 4, 5, ...
GENERATED_NAMES = [
    "charmander", "charmeleon", "charizard", "squirtle", "wartortle", "blastoise", "caterpie", "metapod",
    "butterfree", "weedle", "kakuna", "beedrill", "pidgey", "pidgeotto", "pidgeot", "rattata", "raticate",
    "spearow", "fearow", "ekans", "arbok", "pikachu", "raichu", "sandshrew", "sandslash", "nidoran-f", "nidorina",
    "nidoqueen", "nidoran-m", "nidorino", "nidoking", "clefairy", "clefable", "vulpix", "ninetales", "jigglypuff",
    "wigglytuff", "zubat", "golbat", "oddish", "gloom", "vileplume", "paras", "parasect", "venonat", "venomoth",
]
FORM_ID = 10033
MEGA_FORM_ROW = 10064  # pokemon_forms.id of venusaur-mega: form ids are not Pokémon ids
#: English species names where the identifier does not title-case to it
ENGLISH_SPECIES_NAMES = {"nidoran-f": "Nidoran♀", "nidoran-m": "Nidoran♂"}
MIN_POKEMON = 4
MAX_POKEMON = 4 + len(GENERATED_NAMES)

RED_BLUE_1 = "A strange seed was\nplanted on its\nback at birth.\x0cThe plant sprouts\nand grows with\nthis POKéMON."
YELLOW_1 = "It can go for days\nwithout eating a\nsingle morsel.\x0cIn the bulb on\nits back, it\nstores energy."
FRENCH_1 = "Au matin de sa vie, la graine sur\nson dos lui fournit les éléments\x0cdont elle a besoin."
RED_BLUE_2 = "When the bulb on\nits back grows\nlarge, it appears\x0cto lose the\nability to stand\non its hind legs."
RED_3 = "The plant blooms\nwhen it is\nabsorbing solar\x0cenergy. It stays\non the move to\nseek sunlight."
YELLOW_3 = "The flower on its\nback catches the\nsun's rays.\x0cThe sunlight is\nthen absorbed and\nused for energy."


def write_csv_fixture(folder: Path, n_pokemon: int = 20) -> Path:
    """Write the fixture tables into ``folder`` (created) for ``n_pokemon`` Pokémon (one is the form 10033)."""
    if not MIN_POKEMON <= n_pokemon <= MAX_POKEMON:
        raise ValueError(f"n_pokemon must be between {MIN_POKEMON} and {MAX_POKEMON}, not {n_pokemon}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t = {name: [] for name in HEADERS}
    _reference_tables(t)
    _hand_written_pokemon(t)
    for pokemon_id in range(4, n_pokemon):
        _generated_pokemon(t, pokemon_id)
    _form(t)
    t["pokemon_species_flavor_text"].sort(key=lambda row: (row[0], row[1], row[2]))
    for name, rows in t.items():
        _write(folder / f"{name}.csv", HEADERS[name], rows, "\r\n" if name in CRLF_TABLES else "\n")
    return folder


def _reference_tables(t: dict) -> None:
    t["regions"] += REGIONS
    t["generations"] += GENERATIONS
    t["types"] += TYPES
    t["stats"] += STATS
    t["abilities"] += ABILITIES
    t["moves"] += MOVES
    t["locations"] += LOCATIONS
    t["location_areas"] += LOCATION_AREAS
    t["versions"] += VERSIONS
    t["pokemon_colors"] += list(enumerate(COLORS, 1))
    t["pokemon_shapes"] += list(enumerate(SHAPES, 1))
    t["pokemon_habitats"] += list(enumerate(HABITATS, 1))
    t["growth_rates"] += GROWTH_RATES
    t["egg_groups"] += list(enumerate(EGG_GROUPS, 1))
    t["evolution_triggers"] += list(enumerate(EVOLUTION_TRIGGERS, 1))


def _species(sid, name, generation, evolves_from, chain, color, shape, habitat, gender_rate, capture, happiness,
             hatch, gender_diff, growth, switchable, legendary=0, mythical=0, is_baby=0):
    return (sid, name, generation, evolves_from, chain, color, shape, habitat, gender_rate, capture, happiness,
            is_baby, hatch, gender_diff, growth, switchable, legendary, mythical, sid, "")


def _evolution(t: dict, evolved_species: int, trigger: int, minimum_level="", trade_species=""):
    row = [len(t["pokemon_evolution"]) + 1, evolved_species, trigger, 1, 1, "", minimum_level]
    row += [""] * 12 + [trade_species, 0, 0, 0, 0] + [""] * 7
    t["pokemon_evolution"].append(tuple(row))


def _encounter(t: dict, version: int, area: int, pokemon_id: int, min_level: int, max_level: int):
    n = len(t["encounters"]) + 1
    t["encounters"].append((n, version, area, n, pokemon_id, min_level, max_level))


def _stats(t: dict, pokemon_id: int, values, efforts=(0, 0, 0, 0, 0, 0)):
    t["pokemon_stats"] += [(pokemon_id, stat, value, effort)
                           for stat, (value, effort) in enumerate(zip(values, efforts), 1)]


def _hand_written_pokemon(t: dict) -> None:
    for pid, name in ((1, "Bulbasaur"), (2, "Ivysaur"), (3, "Venusaur")):
        _names(t, pid, name)
    # bulbasaur
    t["pokemon"].append((1, "bulbasaur", 1, 7, 69, 64, 1, 1))
    t["pokemon_species"].append(_species(1, "bulbasaur", 1, "", 1, 5, 8, 3, 1, 45, 70, 20, 0, 4, 0))
    t["pokemon_types"] += [(1, 12, 1), (1, 4, 2)]
    _stats(t, 1, (45, 49, 49, 65, 65, 45), (0, 0, 0, 1, 0, 0))
    t["pokemon_abilities"] += [(1, 65, 0, 1), (1, 34, 1, 3)]
    _encounter(t, 1, 321, 1, 3, 5)
    _encounter(t, 1, 291, 1, 8, 10)
    _encounter(t, 2, 290, 1, 8, 10)
    _encounter(t, 2, 321, 1, 4, 6)
    _encounter(t, 3, 9001, 1, 10, 10)
    t["pokemon_species_flavor_text"] += [(1, 1, 9, RED_BLUE_1), (1, 1, 5, FRENCH_1), (1, 2, 9, RED_BLUE_1),
                                         (1, 3, 9, YELLOW_1)]
    t["pokemon_egg_groups"] += [(1, 1), (1, 7)]
    t["pokemon_moves"] += [(1, 1, 33, 1, 1, "", ""), (1, 1, 22, 1, 13, "", ""), (1, 1, 14, 4, 0, "", ""),
                           (1, 2, 33, 1, 1, "", ""), (1, 2, 45, 1, 3, "", "")]
    # ivysaur: no encounters; egg groups listed out of id order
    t["pokemon"].append((2, "ivysaur", 2, 10, 130, 142, 2, 1))
    t["pokemon_species"].append(_species(2, "ivysaur", 1, 1, 1, 5, 8, 3, 1, 45, 70, 20, 0, 4, 0))
    t["pokemon_types"] += [(2, 12, 1), (2, 4, 2)]
    _stats(t, 2, (60, 62, 63, 80, 80, 60), (0, 0, 0, 1, 1, 0))
    t["pokemon_abilities"] += [(2, 65, 0, 1), (2, 34, 1, 3)]
    t["pokemon_species_flavor_text"] += [(2, 1, 9, RED_BLUE_2), (2, 2, 9, RED_BLUE_2)]
    t["pokemon_egg_groups"] += [(2, 7), (2, 1)]
    _evolution(t, 2, 1, minimum_level=16)
    t["pokemon_moves"] += [(2, 1, 73, 1, 7, "", ""), (2, 1, 22, 1, 1, "", ""), (2, 1, 33, 1, 1, "", "")]
    # venusaur: species without habitat
    t["pokemon"].append((3, "venusaur", 3, 20, 1000, 236, 3, 1))
    t["pokemon_species"].append(_species(3, "venusaur", 1, 2, 1, 5, 8, "", 1, 45, 70, 20, 1, 4, 1))
    t["pokemon_types"] += [(3, 12, 1), (3, 4, 2)]
    _stats(t, 3, (80, 82, 83, 100, 100, 80), (0, 0, 0, 2, 1, 0))
    t["pokemon_abilities"] += [(3, 65, 0, 1), (3, 34, 1, 3)]
    _encounter(t, 10, 285, 3, 50, 50)
    t["pokemon_species_flavor_text"] += [(3, 1, 9, RED_3), (3, 3, 9, YELLOW_3)]
    t["pokemon_egg_groups"] += [(3, 1), (3, 7)]
    _evolution(t, 3, 1, minimum_level=32)
    t["pokemon_moves"] += [(3, 1, 76, 1, 0, "", ""), (3, 1, 22, 1, 1, "", "")]


def _form(t: dict) -> None:
    # venusaur-mega: not default, null base_experience, no moves, no encounters
    t["pokemon"].append((FORM_ID, "venusaur-mega", 3, 24, 1555, "", 4, 0))
    t["pokemon_types"] += [(FORM_ID, 12, 1), (FORM_ID, 4, 2)]
    _stats(t, FORM_ID, (80, 100, 123, 122, 120, 80), (0, 0, 0, 2, 1, 0))
    t["pokemon_abilities"] += [(FORM_ID, 47, 0, 1)]
    t["pokemon_forms"].append((MEGA_FORM_ROW, "venusaur-mega", "mega", FORM_ID, 15, 1, 1, 1, 2, 4))
    t["pokemon_form_names"] += [(MEGA_FORM_ROW, 5, "Méga", "Méga-Florizarre"), (MEGA_FORM_ROW, 9, "Mega", "Mega Venusaur")]


def _names(t: dict, pokemon_id: int, english: str) -> None:
    """The default form (form id = Pokémon id) and the species' names of a default Pokémon."""
    t["pokemon_forms"].append((pokemon_id, english.lower(), "", pokemon_id, 1, 1, 0, 0, 1, pokemon_id))
    t["pokemon_species_names"] += [(pokemon_id, 5, english.upper(), ""), (pokemon_id, 9, english, "Seed Pokémon")]


def _generated_pokemon(t: dict, pokemon_id: int) -> None:
    rng = random.Random(f"pokembed-fixture-{pokemon_id}")
    name = GENERATED_NAMES[pokemon_id - 4]
    _names(t, pokemon_id, ENGLISH_SPECIES_NAMES.get(name, name.capitalize()))
    t["pokemon"].append((pokemon_id, name, pokemon_id, rng.randint(3, 30), rng.randint(20, 1000),
                         rng.randint(40, 300), pokemon_id, 1))
    evolves_from = pokemon_id - 1 if pokemon_id > 4 and rng.random() < 0.5 else ""
    habitat = "" if rng.random() < 0.15 else rng.randint(1, len(HABITATS))
    color, shape = rng.randint(1, len(COLORS)), rng.randint(1, len(SHAPES))
    t["pokemon_species"].append(_species(
        pokemon_id, name, rng.choice((1, 1, 2, 3)), evolves_from, pokemon_id, color, shape, habitat,
        rng.choice((-1, 0, 1, 2, 4, 6, 8)), rng.choice((3, 45, 120, 190, 255)), rng.choice((0, 35, 50, 70)),
        rng.choice((5, 10, 15, 20, 40)), int(rng.random() < 0.3), rng.randint(1, len(GROWTH_RATES)), 0,
        legendary=int(rng.random() < 0.05)))
    types = rng.sample((1, 3, 4, 5, 7, 10, 11, 12, 13, 14, 18), rng.choice((1, 1, 2)))
    t["pokemon_types"] += [(pokemon_id, type_id, slot) for slot, type_id in enumerate(types, 1)]
    _stats(t, pokemon_id, [rng.randint(20, 150) for _ in range(6)], [rng.choice((0, 0, 1, 2)) for _ in range(6)])
    abilities = rng.sample([a[0] for a in ABILITIES], rng.randint(1, 3))
    t["pokemon_abilities"] += [(pokemon_id, ability, int(slot == 3), slot) for slot, ability in enumerate(abilities, 1)]
    if rng.random() < 0.6:
        for _ in range(rng.randint(1, 3)):
            level = rng.randint(2, 40)
            _encounter(t, rng.randint(1, 11), rng.choice(LOCATION_AREAS)[0], pokemon_id, level, level + 2)
    habitat_text = HABITATS[habitat - 1] if habitat else "unknown"
    for version in sorted(rng.sample(range(1, 12), rng.randint(1, 3))):
        t["pokemon_species_flavor_text"].append((pokemon_id, version, 9, (
            f"{name.upper()} is often seen\nin {habitat_text} areas.\x0cIts {COLORS[color - 1]} body\n"
            f"shines in version {VERSIONS[version - 1][2]}.")))
        if rng.random() < 0.3:
            t["pokemon_species_flavor_text"].append((pokemon_id, version, 5, f"On voit souvent {name}\x0cici."))
    t["pokemon_egg_groups"] += [(pokemon_id, g) for g in rng.sample(range(1, 16), rng.choice((1, 2)))]
    if evolves_from:
        trigger = rng.choice((1, 1, 2, 3))
        _evolution(t, pokemon_id, trigger, minimum_level=rng.randint(10, 40) if trigger == 1 else "")
    for move in rng.sample([m[0] for m in MOVES], rng.randint(2, 8)):
        for version_group in range(1, rng.choice((1, 2, 3)) + 1):
            t["pokemon_moves"].append((pokemon_id, version_group, move, rng.choice((1, 4)), rng.randint(0, 40), "", ""))


def _write(path: Path, header: str, rows: list, line_end: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=line_end)
        writer.writerow(header.split(","))
        writer.writerows(rows)
