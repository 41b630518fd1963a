// Category-specific English words the synthetic generator builds titles, descriptions, profiles and reviews from.

export interface CategoryVocabulary {
  name: string;
  nouns: readonly string[];
  features: readonly string[];
  adjectives: readonly string[];
  /** How a user who loves this category talks about themselves in reviews and profiles. */
  personas: readonly string[];
}

export const SYNTHETIC_CATEGORIES: readonly CategoryVocabulary[] = [
  {
    name: "acoustic guitars",
    nouns: ["guitar", "dreadnought", "parlor guitar", "travel guitar", "cutaway guitar", "twelve string guitar"],
    features: ["fretboard", "strings", "spruce top", "tuning pegs", "bridge", "neck", "soundhole", "rosewood back", "nut", "action"],
    adjectives: ["warm", "resonant", "bright", "mellow", "handcrafted", "solid", "balanced", "vintage"],
    personas: [
      "as a weekend guitarist",
      "after years of strumming folk songs",
      "for my fingerpicking practice",
      "playing around the campfire",
    ],
  },
  {
    name: "running shoes",
    nouns: ["running shoe", "trail runner", "racing flat", "marathon trainer", "road shoe", "stability shoe"],
    features: ["cushioning", "outsole", "heel counter", "midsole", "laces", "toe box", "arch support", "mesh upper", "grip", "drop"],
    adjectives: ["lightweight", "springy", "breathable", "durable", "responsive", "snug", "cushioned", "fast"],
    personas: ["as a marathon runner", "training for my next half marathon", "on my morning jogs", "logging miles every week"],
  },
  {
    name: "coffee makers",
    nouns: ["coffee maker", "espresso machine", "pour over kettle", "french press", "drip brewer", "grinder"],
    features: ["carafe", "filter", "water tank", "boiler", "steam wand", "burr", "timer", "portafilter", "brew basket", "thermostat"],
    adjectives: ["aromatic", "rich", "quick", "programmable", "stainless", "compact", "strong", "smooth"],
    personas: ["as a coffee snob", "brewing my morning espresso", "for our office breakroom", "roasting my own beans"],
  },
  {
    name: "science fiction novels",
    nouns: ["novel", "space opera", "trilogy", "paperback", "anthology", "first edition"],
    features: ["plot", "worldbuilding", "characters", "ending", "prose", "spaceships", "aliens", "pacing", "time travel", "dialogue"],
    adjectives: ["gripping", "thoughtful", "epic", "imaginative", "dystopian", "clever", "haunting", "sprawling"],
    personas: ["as a lifelong sci-fi reader", "for my book club", "reading on the train", "after finishing every classic robot story"],
  },
  {
    name: "board games",
    nouns: ["board game", "card game", "strategy game", "party game", "cooperative game", "expansion"],
    features: ["rules", "dice", "cards", "board", "miniatures", "tokens", "replay value", "artwork", "player count", "setup time"],
    adjectives: ["strategic", "colorful", "competitive", "addictive", "quick", "family friendly", "deep", "tense"],
    personas: ["for our weekly game night", "as a tabletop collector", "playing with my kids", "hosting friends on Fridays"],
  },
  {
    name: "gardening tools",
    nouns: ["pruner", "trowel", "garden hose", "rake", "watering can", "wheelbarrow"],
    features: ["blade", "handle", "grip", "nozzle", "tines", "spring", "rust coating", "wheel", "spout", "hinge"],
    adjectives: ["sturdy", "sharp", "ergonomic", "rustproof", "heavy duty", "reliable", "lightweight", "green"],
    personas: ["tending my vegetable beds", "as a weekend gardener", "for my rose bushes", "keeping the backyard tidy"],
  },
  {
    name: "skin care",
    nouns: ["moisturizer", "serum", "cleanser", "sunscreen", "face mask", "toner"],
    features: ["texture", "scent", "hydration", "ingredients", "bottle", "pump", "finish", "absorption", "spf", "formula"],
    adjectives: ["gentle", "soothing", "fragrance free", "nourishing", "silky", "refreshing", "lightweight", "hydrating"],
    personas: ["with my sensitive skin", "as part of my evening routine", "during dry winters", "after trying every drugstore brand"],
  },
  {
    name: "camping gear",
    nouns: ["tent", "sleeping bag", "camp stove", "backpack", "lantern", "hammock"],
    features: ["zipper", "rain fly", "poles", "insulation", "straps", "burner", "stakes", "waterproofing", "frame", "buckles"],
    adjectives: ["rugged", "waterproof", "packable", "roomy", "warm", "compact", "reliable", "lightweight"],
    personas: ["on backcountry trips", "as an avid hiker", "camping with the scouts", "for long weekends in the mountains"],
  },
  {
    name: "kitchen knives",
    nouns: ["chef's knife", "paring knife", "santoku", "bread knife", "cleaver", "knife set"],
    features: ["edge", "blade", "handle", "bolster", "steel", "balance", "tang", "sheath", "tip", "sharpness"],
    adjectives: ["razor sharp", "forged", "balanced", "precise", "hefty", "japanese", "stainless", "elegant"],
    personas: ["as a home cook", "prepping dinner every night", "after culinary school", "cooking for a big family"],
  },
  {
    name: "headphones",
    nouns: ["headphones", "earbuds", "studio monitors", "gaming headset", "noise cancelling headphones", "wireless earphones"],
    features: [
      "bass",
      "battery",
      "ear cushions",
      "microphone",
      "noise cancelling",
      "cable",
      "treble",
      "soundstage",
      "headband",
      "bluetooth",
    ],
    adjectives: ["crisp", "immersive", "comfortable", "punchy", "wireless", "detailed", "foldable", "clear"],
    personas: ["as an audiophile", "on my daily commute", "mixing music at home", "gaming late at night"],
  },
];

export const REVIEW_VERBS = ["really like", "love", "enjoy", "recommend", "keep using", "am happy with"] as const;
export const DISLIKE_VERBS = ["regret buying", "returned", "am disappointed by", "do not like"] as const;
