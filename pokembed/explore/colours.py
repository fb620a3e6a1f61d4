"""The colours the explorer paints with: one per generation (the map) and one per type (chips and the map)."""

GENERATION_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
                      "#469990", "#808000", "#000075", "#a9a9a9")
"""Nine generations told apart at a glance (Trubetskoy's distinct colours), then spares; "unknown" takes the next."""
TYPE_COLOURS = {
    "normal": "#A8A77A", "fire": "#EE8130", "water": "#6390F0", "electric": "#F7D02C", "grass": "#7AC74C",
    "ice": "#96D9D6", "fighting": "#C22E28", "poison": "#A33EA1", "ground": "#E2BF65", "flying": "#A98FF3",
    "psychic": "#F95587", "bug": "#A6B91A", "rock": "#B6A136", "ghost": "#735797", "dragon": "#6F35FC",
    "dark": "#705746", "steel": "#B7B7CE", "fairy": "#D685AD", "stellar": "#40B5A5", "unknown": "#68A090",
}
"""The games' customary type colours."""
UNKNOWN_COLOUR = "#888888"
