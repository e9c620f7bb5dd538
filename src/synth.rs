//! Synth: realistic customer records with known duplicates, for the
//! bundled example, tests and benchmarks.
//!
//! Each entity is a person with a name, e-mail, phone, street address,
//! city, state, zip and birth date. A share of entities get 1 to 5
//! duplicates, each carrying a few of the defects real customer tables
//! have: typos, nicknames, first and last name swapped, missing values,
//! phones, e-mails and dates written another way, street abbreviations,
//! a moved zip digit. Rows come out shuffled, with opaque keys, and the
//! truth (each row's entity) alongside. The same seed gives the same data.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::rng::Rng;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Number of distinct people.
    pub entities: usize,
    /// Share of people that have duplicates.
    pub duplicate_share: f64,
    /// Most duplicates one person can have.
    pub max_duplicates: usize,
    /// Seed.
    pub seed: u64,
    /// Prefix of the generated keys.
    pub key_prefix: String,
}

impl Default for SynthOptions {
    fn default() -> SynthOptions {
        SynthOptions {
            entities: 1000,
            duplicate_share: 0.3,
            max_duplicates: 5,
            seed: 42,
            key_prefix: "c".into(),
        }
    }
}

/// Generated records and the entity of each row.
pub struct Synthetic {
    /// The records (all columns strings).
    pub batch: RecordBatch,
    /// Entity number of each row.
    pub entity: Vec<u64>,
}

/// The columns of generated records.
pub const COLUMNS: [&str; 10] = [
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "state",
    "zip",
    "birth_date",
];

const FIRST: &[&str] = &[
    "james",
    "mary",
    "robert",
    "patricia",
    "john",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "nancy",
    "daniel",
    "lisa",
    "matthew",
    "margaret",
    "anthony",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "andrew",
    "emily",
    "joshua",
    "donna",
    "kenneth",
    "michelle",
    "kevin",
    "dorothy",
    "brian",
    "carol",
    "george",
    "amanda",
    "edward",
    "melissa",
    "ronald",
    "deborah",
    "timothy",
    "stephanie",
    "jason",
    "rebecca",
    "jeffrey",
    "laura",
    "ryan",
    "sharon",
    "jacob",
    "cynthia",
    "gary",
    "kathleen",
    "nicholas",
    "amy",
    "eric",
    "shirley",
    "jonathan",
    "angela",
    "stephen",
    "helen",
    "larry",
    "anna",
    "justin",
    "brenda",
    "scott",
    "pamela",
    "brandon",
    "nicole",
    "benjamin",
    "samantha",
    "samuel",
    "katherine",
    "gregory",
    "emma",
    "frank",
    "ruth",
    "alexander",
    "christine",
    "raymond",
    "catherine",
    "patrick",
    "debra",
    "jack",
    "rachel",
    "dennis",
    "carolyn",
    "jerry",
    "janet",
    "tyler",
    "virginia",
    "aaron",
    "maria",
    "jose",
    "heather",
    "adam",
    "diane",
    "henry",
    "julie",
    "nathan",
    "joyce",
    "douglas",
    "victoria",
    "zachary",
    "olivia",
    "peter",
    "kelly",
    "kyle",
    "christina",
    "walter",
    "lauren",
    "ethan",
    "joan",
    "jeremy",
    "evelyn",
    "harold",
    "judith",
    "keith",
    "megan",
    "christian",
    "cheryl",
    "roger",
    "andrea",
    "noah",
    "hannah",
    "gerald",
    "martha",
    "carl",
    "jacqueline",
    "terry",
    "frances",
    "sean",
    "gloria",
    "austin",
    "ann",
    "arthur",
    "teresa",
    "lawrence",
    "kathryn",
    "jesse",
    "sara",
    "dylan",
    "janice",
    "bryan",
    "jean",
    "joe",
    "alice",
    "jordan",
    "madison",
    "billy",
    "doris",
    "bruce",
    "abigail",
    "albert",
    "julia",
    "willie",
    "judy",
    "gabriel",
    "grace",
    "logan",
    "denise",
    "alan",
    "amber",
    "juan",
    "marilyn",
    "wayne",
    "beverly",
    "roy",
    "danielle",
    "ralph",
    "theresa",
    "randy",
    "sophia",
    "eugene",
    "marie",
    "vincent",
    "diana",
    "russell",
    "brittany",
    "elijah",
    "natalie",
    "louis",
    "isabella",
    "bobby",
    "charlotte",
    "philip",
    "rose",
    "johnny",
    "alexis",
    "zoe",
    "chloe",
    "lucas",
    "mia",
];

const LAST: &[&str] = &[
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "gomez",
    "phillips",
    "evans",
    "turner",
    "diaz",
    "parker",
    "cruz",
    "edwards",
    "collins",
    "reyes",
    "stewart",
    "morris",
    "morales",
    "murphy",
    "cook",
    "rogers",
    "gutierrez",
    "ortiz",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "ramos",
    "kim",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
    "chavez",
    "wood",
    "james",
    "bennett",
    "gray",
    "mendoza",
    "ruiz",
    "hughes",
    "price",
    "alvarez",
    "castillo",
    "sanders",
    "patel",
    "myers",
    "long",
    "ross",
    "foster",
    "jimenez",
    "powell",
    "jenkins",
    "perry",
    "russell",
    "sullivan",
    "bell",
    "coleman",
    "butler",
    "henderson",
    "barnes",
    "gonzales",
    "fisher",
    "vasquez",
    "simmons",
    "romero",
    "jordan",
    "patterson",
    "alexander",
    "hamilton",
    "graham",
    "reynolds",
    "griffin",
    "wallace",
    "moreno",
    "west",
    "cole",
    "hayes",
    "bryant",
    "herrera",
    "gibson",
    "ellis",
    "tran",
    "medina",
    "aguilar",
    "stevens",
    "murray",
    "ford",
    "castro",
    "marshall",
    "owens",
    "harrison",
    "fernandez",
    "mcdonald",
    "woods",
    "washington",
    "kennedy",
    "wells",
    "vargas",
    "henry",
    "chen",
    "freeman",
    "webb",
    "tucker",
    "guzman",
    "burns",
    "crawford",
    "olson",
    "simpson",
    "porter",
    "hunter",
    "gordon",
    "mendez",
    "silva",
    "shaw",
    "snyder",
    "mason",
    "dixon",
    "munoz",
    "hunt",
    "hicks",
    "holmes",
    "palmer",
    "wagner",
    "black",
    "robertson",
    "boyd",
    "rose",
    "stone",
    "salazar",
    "fox",
    "warren",
    "mills",
    "meyer",
    "rice",
    "schmidt",
    "garza",
    "daniels",
    "ferguson",
    "nichols",
    "stephens",
    "soto",
    "weaver",
    "ryan",
    "gardner",
    "payne",
    "grant",
    "dunn",
    "kelley",
    "spencer",
    "hawkins",
    "arnold",
    "pierce",
    "vazquez",
    "hansen",
    "peters",
    "santos",
    "hart",
    "bradley",
    "knight",
    "elliott",
    "cunningham",
    "duncan",
    "armstrong",
    "hudson",
    "carroll",
    "lane",
    "riley",
    "andrews",
    "alvarado",
    "ray",
    "delgado",
    "berry",
    "perkins",
    "hoffman",
    "johnston",
    "matthews",
    "pena",
    "richards",
    "contreras",
    "willis",
    "carpenter",
    "lawrence",
    "sandoval",
    "guerrero",
    "george",
    "chapman",
    "rios",
    "estrada",
    "ortega",
    "watkins",
    "greene",
    "nunez",
    "wheeler",
    "valdez",
    "harper",
    "burke",
    "larson",
    "santiago",
    "maldonado",
    "morrison",
    "franklin",
    "carlson",
    "austin",
    "dominguez",
    "carr",
    "lawson",
    "jacobs",
    "obrien",
    "lynch",
    "singh",
    "vega",
    "bishop",
    "montgomery",
    "oliver",
    "jensen",
    "harvey",
    "williamson",
    "gilbert",
    "dean",
    "sims",
    "espinoza",
    "howell",
    "li",
    "wong",
    "reid",
    "hanson",
    "le",
    "mccoy",
    "garrett",
    "burton",
    "fuller",
    "wang",
    "weber",
    "welch",
    "rojas",
    "lucas",
    "marquez",
    "fields",
    "park",
    "yang",
    "little",
    "banks",
    "padilla",
    "day",
    "walsh",
    "bowman",
    "schultz",
    "luna",
    "fowler",
    "mejia",
];

/// Nickname forms of some given names (the normalizer knows them).
const NICKNAMES: &[(&str, &str)] = &[
    ("william", "bill"),
    ("robert", "bob"),
    ("richard", "dick"),
    ("elizabeth", "liz"),
    ("james", "jim"),
    ("michael", "mike"),
    ("thomas", "tom"),
    ("joseph", "joe"),
    ("margaret", "peggy"),
    ("katherine", "kate"),
    ("christopher", "chris"),
    ("daniel", "dan"),
    ("matthew", "matt"),
    ("anthony", "tony"),
    ("david", "dave"),
    ("edward", "ted"),
    ("patricia", "pat"),
    ("jennifer", "jen"),
    ("samuel", "sam"),
    ("benjamin", "ben"),
    ("nicholas", "nick"),
    ("stephen", "steve"),
    ("timothy", "tim"),
    ("jessica", "jess"),
    ("susan", "sue"),
];

const STREETS: &[&str] = &[
    "main",
    "oak",
    "pine",
    "maple",
    "cedar",
    "elm",
    "washington",
    "lake",
    "hill",
    "park",
    "church",
    "high",
    "mill",
    "river",
    "spring",
    "sunset",
    "ridge",
    "meadow",
    "forest",
    "valley",
    "chestnut",
    "walnut",
    "willow",
    "birch",
    "lincoln",
    "jefferson",
    "madison",
    "franklin",
    "jackson",
    "highland",
    "railroad",
    "center",
    "union",
    "prospect",
    "school",
    "bridge",
    "market",
    "liberty",
    "north",
    "south",
    "east",
    "west",
    "green",
    "water",
    "locust",
    "cherry",
    "dogwood",
    "hickory",
    "magnolia",
    "poplar",
    "sycamore",
    "laurel",
    "holly",
    "aspen",
    "juniper",
    "orchard",
    "harbor",
    "bay",
    "canyon",
    "summit",
];

const STREET_TYPES: &[(&str, &str)] = &[
    ("street", "st"),
    ("road", "rd"),
    ("avenue", "ave"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("court", "ct"),
    ("place", "pl"),
    ("boulevard", "blvd"),
    ("terrace", "tce"),
    ("way", "way"),
];

const CITIES: &[(&str, &str, u32)] = &[
    ("springfield", "IL", 62701),
    ("riverside", "CA", 92501),
    ("franklin", "TN", 37064),
    ("greenville", "SC", 29601),
    ("bristol", "CT", 6010),
    ("clinton", "IA", 52732),
    ("fairview", "OR", 97024),
    ("salem", "MA", 1970),
    ("madison", "WI", 53703),
    ("georgetown", "TX", 78626),
    ("arlington", "VA", 22201),
    ("ashland", "OR", 97520),
    ("dover", "DE", 19901),
    ("oxford", "MS", 38655),
    ("milton", "MA", 2186),
    ("newport", "RI", 2840),
    ("auburn", "AL", 36830),
    ("dayton", "OH", 45402),
    ("lexington", "KY", 40507),
    ("marion", "IN", 46952),
    ("burlington", "VT", 5401),
    ("manchester", "NH", 3101),
    ("columbia", "MO", 65201),
    ("jackson", "MS", 39201),
    ("hudson", "NY", 12534),
    ("kingston", "NY", 12401),
    ("chester", "PA", 19013),
    ("lebanon", "PA", 17042),
    ("camden", "NJ", 8102),
    ("mount vernon", "NY", 10550),
    ("winchester", "VA", 22601),
    ("florence", "AL", 35630),
    ("portland", "ME", 4101),
    ("cleveland", "OH", 44113),
    ("hamilton", "OH", 45011),
    ("troy", "NY", 12180),
    ("lancaster", "PA", 17602),
    ("aurora", "IL", 60505),
    ("rochester", "MN", 55901),
    ("boulder", "CO", 80302),
];

const DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "mail.com",
];

/// Generated names beyond the common ones, so that large files have the
/// long tail of rare names real tables have.
const GENERATED_FIRST: usize = 2_000;
const GENERATED_LAST: usize = 40_000;
const GENERATED_STREETS: usize = 1_500;
const GENERATED_CITIES: usize = 3_000;
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
    "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
];

/// A made-up but pronounceable word of two or three syllables.
fn invented(rng: &mut Rng, endings: &[&str]) -> String {
    const ONSETS: &[&str] = &[
        "b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "r", "s",
        "sh", "st", "t", "th", "tr", "v", "w", "z",
    ];
    const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ou", "y", "ee", "oa"];
    const CODAS: &[&str] = &["", "", "n", "r", "l", "s", "t", "ck", "ll", "rd", "nd", "m", "x", "ng"];
    let mut word = String::new();
    for _ in 0..2 + rng.below(2) {
        let (onset, vowel): (&&str, &&str) = (rng.pick(ONSETS), rng.pick(VOWELS));
        word.push_str(onset);
        word.push_str(vowel);
    }
    let (coda, ending): (&&str, &&str) = (rng.pick(CODAS), rng.pick(endings));
    word.push_str(coda);
    word.push_str(ending);
    word
}

/// Draws indices 0..n with Zipf-like weights 1/(i + offset): the first
/// (common) entries often, the long tail rarely.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, offset: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / (i as f64 + offset);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative.partition_point(|&c| c < x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// The names, streets and places people are drawn from: the common ones
/// first, then invented ones; fixed (not seeded by the caller) so every
/// run draws from the same world.
struct World {
    first: Vec<String>,
    last: Vec<String>,
    streets: Vec<String>,
    cities: Vec<(String, String, u32)>,
    first_zipf: Zipf,
    last_zipf: Zipf,
    street_zipf: Zipf,
    city_zipf: Zipf,
}

impl World {
    fn new() -> World {
        let mut rng = Rng::new(0x5EED_F00D);
        let unique = |common: &[&str], extra: usize, endings: &[&str], rng: &mut Rng| {
            let mut names: Vec<String> = common.iter().map(|s| s.to_string()).collect();
            let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
            while names.len() < common.len() + extra {
                let word = invented(rng, endings);
                if word.len() >= 4 && seen.insert(word.clone()) {
                    names.push(word);
                }
            }
            names
        };
        let first = unique(FIRST, GENERATED_FIRST, &["", "a", "o", "ie", "en"], &mut rng);
        let last = unique(
            LAST,
            GENERATED_LAST,
            &["", "son", "ton", "ley", "man", "ford", "berg", "ski", "ez", "er", "well", "wood"],
            &mut rng,
        );
        let streets =
            unique(STREETS, GENERATED_STREETS, &["", "wood", "field", "view", "dale", "brook"], &mut rng);
        let mut cities: Vec<(String, String, u32)> =
            CITIES.iter().map(|(c, s, z)| (c.to_string(), s.to_string(), *z)).collect();
        let names = unique(
            &[],
            GENERATED_CITIES,
            &["ville", "ton", "burg", " springs", " falls", "field", ""],
            &mut rng,
        );
        for name in names {
            let state = (*rng.pick(STATES)).to_string();
            cities.push((name, state, 1000 + rng.below(98_000) as u32));
        }
        World {
            first_zipf: Zipf::new(first.len(), 10.0),
            last_zipf: Zipf::new(last.len(), 10.0),
            street_zipf: Zipf::new(streets.len(), 20.0),
            city_zipf: Zipf::new(cities.len(), 20.0),
            first,
            last,
            streets,
            cities,
        }
    }
}

#[derive(Clone)]
struct Person {
    first: String,
    last: String,
    email: String,
    phone: [u32; 3],
    number: u32,
    street: String,
    street_type: usize,
    city: usize,
    zip: u32,
    birth: (i32, u32, u32),
}

fn person(world: &World, rng: &mut Rng) -> Person {
    let first = world.first[world.first_zipf.draw(rng)].clone();
    let last = world.last[world.last_zipf.draw(rng)].clone();
    let city = world.city_zipf.draw(rng);
    let email = match rng.below(4) {
        0 => format!("{first}.{last}"),
        1 => format!("{}{last}{}", &first[..1], rng.below(100)),
        2 => format!("{first}{}", 1950 + rng.below(60)),
        _ => format!("{first}_{last}{}", rng.below(10)),
    } + "@"
        + *rng.pick(DOMAINS);
    Person {
        first,
        last,
        email,
        phone: [200 + rng.below(800) as u32, 200 + rng.below(800) as u32, rng.below(10_000) as u32],
        number: 1 + rng.below(9_999) as u32,
        street: world.streets[world.street_zipf.draw(rng)].clone(),
        street_type: rng.below(STREET_TYPES.len()),
        city,
        zip: world.cities[city].2 + rng.below(40) as u32,
        birth: (1930 + rng.below(75) as i32, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32),
    }
}

fn typo(word: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 3 {
        return word.to_string();
    }
    let i = 1 + rng.below(chars.len() - 1);
    let letter = (b'a' + rng.below(26) as u8) as char;
    match rng.below(4) {
        0 => {
            chars.remove(i);
        }
        1 => chars.insert(i, letter),
        2 => chars[i] = letter,
        _ => chars.swap(i - 1, i),
    }
    chars.into_iter().collect()
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How one row writes a person; duplicates vary it.
struct Style {
    phone: usize,
    date: usize,
    abbreviate: bool,
    upper: bool,
}

fn row(world: &World, p: &Person, style: &Style) -> [String; 9] {
    let [a, b, c] = p.phone;
    let phone = match style.phone {
        0 => format!("({a}) {b}-{c:04}"),
        1 => format!("{a}-{b}-{c:04}"),
        2 => format!("+1 {a} {b} {c:04}"),
        _ => format!("{a}.{b}.{c:04}"),
    };
    let (y, m, d) = p.birth;
    let birth = match style.date {
        0 => format!("{y:04}-{m:02}-{d:02}"),
        1 => format!("{m:02}/{d:02}/{y:04}"),
        _ => format!("{y:04}{m:02}{d:02}"),
    };
    let (full, short) = STREET_TYPES[p.street_type];
    let street = format!(
        "{} {} {}",
        p.number,
        title_case(&p.street),
        title_case(if style.abbreviate { short } else { full })
    );
    let (city, state, _) = &world.cities[p.city];
    let name = |s: &str| if style.upper { s.to_uppercase() } else { title_case(s) };
    [
        name(&p.first),
        name(&p.last),
        p.email.clone(),
        phone,
        street,
        title_case(city),
        state.clone(),
        format!("{:05}", p.zip),
        birth,
    ]
}

/// Apply one to three defects to a duplicate's fields.
fn corrupt(world: &World, p: &Person, fields: &mut [String; 9], rng: &mut Rng) {
    let defects = 1 + rng.below(3);
    for _ in 0..defects {
        match rng.below(11) {
            0 => fields[0] = title_case(&typo(&p.first, rng)),
            1 => fields[1] = title_case(&typo(&p.last, rng)),
            2 => {
                if let Some((_, nick)) = NICKNAMES.iter().find(|(full, _)| *full == p.first) {
                    fields[0] = title_case(nick);
                } else {
                    fields[0] = title_case(&typo(&p.first, rng));
                }
            }
            3 => fields.swap(0, 1),
            4 => {
                let i = *rng.pick(&[2usize, 3, 4, 8]);
                fields[i].clear();
            }
            5 => fields[2] = fields[2].to_uppercase(),
            6 => {
                let (local, domain) = p.email.split_once('@').unwrap_or((&p.email, ""));
                fields[2] = format!("{}@{domain}", typo(local, rng));
            }
            7 => fields[7] = format!("{:05}", p.zip + 1 + rng.below(8) as u32),
            8 => fields[5] = title_case(&typo(&world.cities[p.city].0, rng)),
            9 => {
                let (y, m, d) = p.birth;
                fields[8] = format!("{y:04}-{d:02}-{m:02}");
            }
            _ => {
                fields[4] = format!(
                    "{} {}",
                    p.number + 1 + rng.below(20) as u32,
                    fields[4].split_once(' ').map_or("", |x| x.1)
                )
            }
        }
    }
}

/// Generate customer records.
pub fn generate(options: &SynthOptions) -> Synthetic {
    let world = World::new();
    let mut rng = Rng::new(options.seed);
    let mut rows: Vec<([String; 9], u64)> = Vec::with_capacity(options.entities * 3 / 2);
    for entity in 0..options.entities as u64 {
        let p = person(&world, &mut rng);
        let base = Style {
            phone: rng.below(4),
            date: rng.below(3),
            abbreviate: rng.chance(0.5),
            upper: rng.chance(0.1),
        };
        rows.push((row(&world, &p, &base), entity));
        if rng.chance(options.duplicate_share) {
            let copies = 1 + rng.below(options.max_duplicates.max(1));
            for _ in 0..copies {
                let style = Style {
                    phone: rng.below(4),
                    date: rng.below(3),
                    abbreviate: rng.chance(0.5),
                    upper: rng.chance(0.15),
                };
                let mut fields = row(&world, &p, &style);
                corrupt(&world, &p, &mut fields, &mut rng);
                rows.push((fields, entity));
            }
        }
    }
    rng.shuffle(&mut rows);
    let width = (rows.len().max(1) as f64).log10().ceil() as usize + 1;
    let keys: StringArray =
        (0..rows.len()).map(|i| Some(format!("{}{:0width$}", options.key_prefix, i))).collect();
    let mut columns: Vec<ArrayRef> = vec![Arc::new(keys)];
    for c in 0..9 {
        let values: StringArray =
            rows.iter().map(|(f, _)| if f[c].is_empty() { None } else { Some(f[c].as_str()) }).collect();
        columns.push(Arc::new(values));
    }
    let schema =
        Schema::new(COLUMNS.iter().map(|c| Field::new(*c, DataType::Utf8, true)).collect::<Vec<_>>());
    let batch = RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema");
    Synthetic { batch, entity: rows.iter().map(|(_, e)| *e).collect() }
}

impl Synthetic {
    /// The truth as a `customer_id,entity_id` table.
    pub fn truth_batch(&self) -> RecordBatch {
        let keys = self.batch.column(0).clone();
        let entities: StringArray = self.entity.iter().map(|e| Some(e.to_string())).collect();
        let schema = Schema::new(vec![
            Field::new(COLUMNS[0], DataType::Utf8, false),
            Field::new("entity_id", DataType::Utf8, false),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![keys, Arc::new(entities)])
            .expect("columns match the schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_duplicates() {
        let options = SynthOptions { entities: 200, ..SynthOptions::default() };
        let (a, b) = (generate(&options), generate(&options));
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.entity, b.entity);
        let mut entities = a.entity.clone();
        entities.sort_unstable();
        entities.dedup();
        assert_eq!(entities.len(), 200);
        assert!(a.entity.len() > 230, "too few duplicates: {}", a.entity.len());
    }
}
