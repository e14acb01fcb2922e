"""Build ``agents/data/seed_words.txt``: common English nouns used as seed words.

Why
---
The simulated user's system prompt (``agents/data/user_system.txt``) says
"Talk about {topic}; the word "{seed_word}" is a good place to begin", and
``game/runner.py`` draws one seed word per game from this list.  Seed words
make opening messages vary between games, so they should be ordinary,
concrete, everyday nouns that give a chat somewhere to go (objects, animals,
food, places, activities), not function words, names, profanity, loaded
topics or vague abstractions like "case" or "issue".  Hand-picking hundreds
of words is neither reviewable nor reproducible, so the list is generated
from word-frequency and morphology data and only the judgement calls are
written down, as exclusion lists in this file.

How
---
1. Take the ``POOL_SIZE`` most frequent English words from ``wordfreq``
   (``top_n_list('en', POOL_SIZE)``), in frequency order.
2. Keep lowercase ASCII words of at least three letters for which
   ``lemminflect.getAllLemmas`` lists a ``NOUN`` reading whose lemma is the
   word itself, i.e. a singular noun (or a mass noun).
3. Drop words whose other readings dominate, judged with Zipf frequencies of
   inflected forms (the noun plural versus the verb's past/participle/-ing
   forms, or the word's own frequency for adjectives and adverbs):

   * inflected forms of another lemma ("thought", "saw", "running") unless
     the noun plural is well attested ("buildings", "paintings");
   * mostly-verbs: the verb forms are nearly as frequent as the word itself
     and clearly more frequent than the noun plural ("sleep", "fight");
   * mostly-adjectives/adverbs: the noun plural is rare relative to the word
     ("personal", "quick", "final");
   * long abstract nominalisations ("-tion", "-ment", "-ness", "-ity", ...).

   ``HEURISTIC_EXCEPTIONS`` lists concrete nouns these rules misjudge
   ("home", "wedding", "television", "station").
4. Drop words from explicit lists: function words and pronouns, numbers and
   units, names, abbreviations, profanity and sensitive or loaded topics,
   time words that make poor topics, vague abstractions and generic people
   words, words whose everyday sense is not a concrete noun or is niche, and
   British spellings of words already present in American spelling.  These
   lists only need to cover words that would otherwise make the cut, so
   they were grown by reading the output top-down.
5. Keep the ``TARGET`` most frequent survivors and sort them alphabetically.

The output is a pure function of the installed ``wordfreq`` and
``lemminflect`` data; the shipped list was built with wordfreq 3.1.1 and
lemminflect 0.2.3 (``pyproject.toml`` only sets minimum versions).
``tests/agents/test_data_files.py`` checks that rebuilding reproduces the
file exactly, so a data change in either library shows up as a failure.

Usage::

    python scripts/build_seed_words.py            # rewrite the list
    python scripts/build_seed_words.py --check    # exit 1 if it is stale
    python scripts/build_seed_words.py --stdout   # print instead of writing
"""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

from lemminflect import getAllInflections, getAllLemmas
from wordfreq import top_n_list, zipf_frequency

LANG = "en"
POOL_SIZE = 20_000
TARGET = 900
MIN_LENGTH = 3

OUTPUT = Path(__file__).resolve().parents[1] / "agents" / "data" / "seed_words.txt"

# Thresholds, in Zipf units (log10 of frequency per billion words).
INFLECTED_MAX_PLURAL_GAP = 0.7  # "buildings" is close enough to "building"
VERB_NEAR_WORD = 1.0  # verb forms within this of the word's own frequency ...
VERB_OVER_PLURAL = 0.3  # ... and this much above the noun plural: a verb
ADJ_MAX_PLURAL_GAP = 1.0  # word minus plural above this: an adjective/adverb

ABSTRACT_SUFFIXES = (
    "tion", "sion", "ment", "ness", "ity", "ism", "ance", "ence",
    "ancy", "ency", "ship", "hood", "dom", "ure",
)
ABSTRACT_SUFFIX_MIN_LENGTH = 7

# Concrete or topical nouns that the frequency and suffix heuristics above
# misjudge ("home" reads as an adverb, "wedding" as a form of "wed",
# "television" ends in "-sion"); they still have to be singular nouns.
HEURISTIC_EXCEPTIONS = frozenset("""
    agriculture ambulance apartment architecture adventure auction aviation
    basement bay business championship childhood chocolate city closet
    clothing community copper cream creature crew diesel document
    electricity equipment exhibition expedition fashion fiction fish
    fitness fleet friendship frost furniture ginger harvest hike home ink
    inn instrument invention journalism kingdom lecture literature magic
    mansion marathon meditation neighborhood nutrition orange paint
    pavement physics piano retirement ruby salt scholarship science
    sculpture shop silver ski station swimming television temperature
    texture toast tourism tournament traffic train treasure university
    vacation wedding wilderness
""".split())

FUNCTION_WORDS = frozenset("""
    all another any anybody anyone anything both each either else
    everybody everyone everything few her hers herself him himself his
    its itself many mine more most much myself neither nobody none nothing
    one ones other others our ours ourselves own plenty plus same she
    several some somebody someone something such that their theirs them
    themselves these they this those till via what whatever when where
    whether whoever which while who whom whose why you your yours yourself
    yourselves how must need will can shall may might ought thee thou thy
    yes yeah hello goodbye wow okay aye heck boo sir madam mister lot
    bunch kind sort type way thing stuff upside midst behalf sake
""".split())

NUMBERS = frozenset("""
    zero two three four five six seven eight nine ten eleven twelve
    twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    million billion billions trillion dozen half quarter second third fourth
    fifth sixth seventh eighth ninth tenth percent percentage cent inch
    mile ton acre gram gallon meter metre ounce pound digit sum ratio
""".split())

# Mostly first names, surnames or places once lowercased.
NAMES = frozenset("""
    billy bob bobby calif chandler chile china christ chuck dale don drake
    earl ford griffin guinea hart heather holly homer jack java jay jersey
    jesus jimmy ken khan lance manila mickey mike miller morgan newton nick
    nova oxford pat python rex rick robin sally sierra smith superman
    surrey tesla terry tom tory trump turner victor walker warren wright
    yahoo ray martin mason cardinal glen
""".split())

ABBREVIATIONS = frozenset("""
    amp anti beta cam chi con demo ion omega pro semi sub tee vice zip
    info ping
""".split())

# Profanity, slurs, sexual terms, violence, crime, drugs, disease, religion
# and party politics: poor or loaded openers for a casual chat.
SENSITIVE = frozenset("""
    ass bastard bitch bra breast bum butt cock crap damn hell idiot jerk
    lesbian nude penis porn shit slut sperm vagina whore sex
    murder murderer suicide killer homicide massacre genocide holocaust
    assault bomb bomber bombing bullet gun pistol rifle shotgun shooter
    weapon missile terror terrorist torture victim violence rape hostage
    robbery theft thief fraud scam crime criminal felony prison jail
    prisoner custody parole warrant gang mafia riot slave slavery racism
    racist cocaine heroin marijuana cannabis weed drug alcoholic overdose
    cancer tumor diabetes dementia autism disease syndrome epidemic
    outbreak trauma disorder funeral corpse coffin burial grave death
    war warfare combat battle battlefield army infantry militia artillery
    cavalry brigade battalion soldier enemy invasion conquest siege
    god lord devil demon heaven sin prayer pope priest pastor bishop
    saint gospel church mosque missionary prophet goddess cult religion
    faith angel worship
    president congress senate senator democrat republican liberal
    conservative communist socialist capitalist nationalist feminist
    activist partisan politician election vote voter ballot referendum
    regime treaty treason propaganda minister ministry parliament
    ambassador embassy chancellor governor mayor commissioner politics
    government coup
""".split())

TIME_WORDS = frozenset("""
    time year day week month hour minute moment today tonight tomorrow
    yesterday period era century decade age date night morning evening
    afternoon midnight noon dawn weekend season lifetime semester
    anniversary interim
""".split())

# Vague abstractions, generic people and roles, institutions, money, media
# and other bureaucratic or otherwise poor conversation openers.
ABSTRACT = frozenset("""
    access account action addition address advantage advice agency agenda
    aim alternative amount analysis angle answer appeal approach approval
    aspect asset attempt attention attitude award background balance basis
    behalf behavior behaviour belief benefit bid block bond bottom brand
    breach breakdown burden candidate care case category cause chance
    change channel charge check choice claim class classic client code
    column command comment comparison complaint component concept concern
    conflict consent consensus content context contract contrast control
    copy core cost count coverage credit crisis cross custom cut damage
    data deal debate debt default defense deficit degree delay demand
    deposit depth desire detail difficulty direction display dispute
    doubt duty ease edge effect effort emphasis end entity entry equal
    equity error event example excess exchange excuse exit expense
    expert expertise export extent fact factor failure fate fault favor
    favour fear feature fee feedback field figure file finding fit flow
    force form format framework function fund gain gap gender grace
    grade growth habit height highlight hint hit holder honor honour hope
    impact import incentive incident income index indicator individual
    initiative input insight intake issue item justice knowledge label
    lack layer legacy length level lie link listing load logic loss luck
    manner margin mark mass matter mean measure medium merit method mind
    mistake mode moral motion motive name narrative nature note notion
    number object objective offer official opinion option order origin
    outcome outlook output overview pace part pattern penalty perspective
    phase phenomenon piece place plan point policy position potential
    power practice premise premium pressure principle priority privacy
    privilege problem process profile profit progress project promise
    property proposal prospect protest purpose quality question quote
    range rank rate rating reason record recovery reform regard regret
    relative relief remainder removal report request reserve resource
    respect response rest result return revenue review reward right risk
    role root round routine rule sample scale scenario scheme scope
    score script section sector security sense series service set shame
    share shift side sight sign signal single site size skill source
    spirit spot stage stake stance stand standard statement status step
    strategy strength stretch strike structure struggle subject success
    suit supply support surface survey switch symbol system tag target
    task technique tendency term territory test text theme theory thread
    threat tip title tone topic total track trend trial trick trouble
    truth unit update upgrade use user value variable variety version
    view vision volume wealth welfare whole wish word yield zone
    aftermath aggregate array attribute axis certainty characteristic
    coordinate critique discourse doctrine entity hierarchy hypothesis
    ideology implication interval magnitude mandate methodology module
    momentum node norm oversight paradigm precedent rhetoric stimulus
    synthesis threshold variant vector
    people person man woman guy dude fellow buddy lady gentleman human
    adult individual member owner partner world life self soul body head
    face hand heart eye mind group public society community population
    nation state country area region district province republic union
    institute committee council agency department administration
    official executive director chairman secretary officer agent deputy
    commander lieutenant colonel sergeant admiral marshal inspector
    prosecutor defendant suspect attorney jury verdict lawsuit law court
    judge statute clause tribunal judiciary
    company business firm industry market economy enterprise corporation
    sector commerce trade investor shareholder consumer customer employee
    employer worker staff personnel contractor supplier vendor provider
    dealer broker seller buyer trader operator manager supervisor
    coordinator administrator consultant analyst specialist researcher
    developer creator founder producer manufacturer maker publisher
    holder recipient participant representative correspondent spokesman
    leader winner loser champion rival opponent competitor supporter
    advocate critic observer viewer reader listener audience fan
    king queen prince princess duke earl baron dame knight emperor
    master servant majesty heir
    news report article press media story episode series program
    programme show network platform content post tweet twitter meme
    download click upload email server database software hardware
    browser interface portal domain password account login profile
    energy matter mass force power control pressure speed weight
    temperature height width depth length volume size
    money cash price cost tax budget loan debt mortgage credit dollar
    income salary wage fee rent deposit savings earnings dividend
    refund discount insurance
    health care medicine therapy treatment diagnosis surgery dose
    patient injury pain wound fever flu vaccine pill hospital clinic
    doctor nurse physician surgeon therapist dentist
    death birth marriage divorce relationship
    deadline census inventory registry paperwork certificate permit
    license visa passport receipt invoice ballot
    shot fire blow burst blast crash crack bang snap punch kick strike
    jam pop hop rap slam swing spike tap pitch drop roll dip
    flat plain rear middle blank minor major elite giant genius
    marine native junior senior graduate freshman academic intellectual
    radical progressive revolutionary rebel rogue savage alien beast
    monster villain fool liar jerk idiot loser creep
    sake envy grief guilt hatred misery despair spite pity sympathy
    bliss joy pride shame anger rage mercy courage wisdom honesty
    virtue loyalty cruelty injustice enthusiasm gratitude humor humour
    irony awe dislike nonsense chaos glory fortune luck destiny fate
    miracle mystery legend myth tale saga
    real dear sweet fine total extra daily regular plus brave
""".split())

# Words whose everyday sense is not a concrete noun, or is too generic,
# technical or niche to start a chat ("bill", "bass", "setting", "hub").
AMBIGUOUS_OR_NICHE = frozenset("""
    look help line course research idea police stay final march study board
    center couple player guess bill meeting blue fall feeling league match
    model page character style blood attack race voice goal professional
    visit peace beat campaign female message contact sale favorite safety
    scene centre material product image stock secret male challenge
    responsible cell interview species speech estate memory bet host labor
    setting net aid beauty guide youth web guard taste victory assistant
    pair joint labour squad chapter talent alcohol assembly cycle row
    danger delivery branch frame plot chemical favourite navy storage
    carbon mate panel burn motor peak breath debut cap democracy recording
    tie visual cabinet chamber chart circuit healthcare household hip
    atmosphere poverty acid anxiety bonus discovery flash arrival ideal
    mood kit virus boost bureau comfort repair congratulations dean
    citizen disaster liquid visible forum rapid resident hook survival
    spell ward daddy gene heritage strip luxury poll tear bull commonwealth
    liberty rally twin alert fundamental teen faculty fighter manual tissue
    dare footage ruin terminal affair cape craft phrase seal shield slide
    stem summit carrier dialogue franchise lifestyle loop sacrifice bass
    filter gulf logo stranger clip conspiracy controversy encounter
    guardian lover offense spectrum inquiry tribute venue accuracy
    copyright mama noble spy treasury civilian discipline graphic pole
    usage amateur bearing bin fluid folk unity arc backup hood veteran
    flesh patch punk transit bulk commentary ethics nerve nightmare raid
    ram ranking tobacco trace chill clue compound grid lap patent suite
    verse lease substitute testimony exhibit icon marvel premiere scratch
    sheriff tier vocal warrior barrier par portfolio protocol strain tackle
    beam curve organ patrol peer pile plug rod tragedy boundary companion
    controller courtesy haven playoff valve banner colony curriculum
    pursuit reminder tribe babe bankruptcy canon defender grip handful
    harmony hybrid parish potter throne witch ally derby fitting hunger
    ore pose rental forecast leak receiver roster setup slot teenager
    tender basin bud chick coke console diameter duo dynamics hub layout
    toll widow matrix reed reign scan span blessing cemetery cheer
    cigarette elder hull pulse realm streak apology bout comeback dot foul
    graph stack thesis audit echo finale immigrant lineup infant insult
    pal probe idol girl boy kid child guy odds parallel passage pit quest
    stroke tune vessel corps revenge
    cant auto arsenal scandal withdrawal thanksgiving mob paragraph
    uncertainty carol ego extract fusion gauge gut keeper mercury ritual
    starter voltage advisor buck pad capitol disposal escort outlet pause
    pledge asylum cluster cylinder denial feat roller sore successor bump
    kitty hazard porter refugee writings bachelor clan clash compatible
    explosive frontier merger superintendent suspicion nominee oath preview
    scholar sprint touchdown triumph underwear wit blend businessman depot
    herald homeland marking messenger plasma plea quarterback sigh spouse
    vegan adviser composite fare leap medicare rebellion swap trio vibe
    workforce bloom bundle descent dial directory guild revival tenure
    treasurer donor outline showcase subsidiary theology batch fury glance
    papa pioneer renewable shortage advocacy champ lad literacy
    pharmaceutical shaft striker cod fry mommy specialty trademark clutch
    header juvenile mankind metric opener dynasty sodium surplus woo
    autonomy booking cooperative fringe instinct legion logistics mistress
    mortal nonprofit operative radius relay sovereignty taxpayer thrust
    genesis levy niche spiral splash undergraduate bracket doe exile
    renewal spill urine borough breakthrough diagnostic exploit gateway
    imagery inning investigator isle refusal sage superstar
    telecommunications basics bibliography decree guru hatch maiden pardon
    predecessor replay surge token boycott dioxide glimpse insulin narrator
    altar combo midwest rivalry royalty sting tick vent bulletin constable
    curb prejudice receptor remake stall surroundings apparatus buffer
    notch parody phantom turnover vegetarian bravo drainage flint immortal
    incumbent insider offspring packet pathway presenter prop valentine
    catalyst heath payroll rover transplant ark cue deed dwarf gore halo
    liner migrant moron mortar prestige retailer rookie junk refuge den
    uranium sack farewell disc
""".split())

# British spellings of words whose American spelling is also frequent, so
# the list does not carry both.
SPELLING_VARIANTS = frozenset("""
    armour catalogue centre colour favourite harbour honour humour
    jewellery labour programme theatre tyre metre behaviour
""".split())

EXCLUDED = (
    FUNCTION_WORDS | NUMBERS | NAMES | ABBREVIATIONS | SENSITIVE | TIME_WORDS | ABSTRACT
    | AMBIGUOUS_OR_NICHE | SPELLING_VARIANTS
)


def zipf(word: str) -> float:
    return zipf_frequency(word, LANG)


def _max_zipf(forms) -> float:
    return max((zipf(f) for f in forms), default=0.0)


def rejection_reason(word: str) -> str | None:
    """Why ``word`` is not a seed word, or ``None`` if it is acceptable."""
    if not (word.isascii() and word.isalpha() and word.islower()):
        return "not lowercase letters"
    if len(word) < MIN_LENGTH:
        return "too short"
    if word in EXCLUDED:
        return "excluded"
    lemmas = getAllLemmas(word)
    nouns = lemmas.get("NOUN", ())
    if not nouns or nouns[0] != word:
        return "not a singular noun"

    if word in HEURISTIC_EXCEPTIONS:
        return None

    own = zipf(word)
    plural = _max_zipf(p for p in getAllInflections(word, "NOUN").get("NNS", ()) if p != word)

    inflected = any(pos != "NOUN" and forms[0] != word for pos, forms in lemmas.items())
    if inflected and own - plural > INFLECTED_MAX_PLURAL_GAP:
        return "inflected form of another word"

    if word in lemmas.get("VERB", ()):
        verb_forms = getAllInflections(word, "VERB")
        verb = _max_zipf(
            f for tag in ("VBD", "VBN", "VBG") for f in verb_forms.get(tag, ()) if f != word
        )
        if verb >= own - VERB_NEAR_WORD and verb > plural + VERB_OVER_PLURAL:
            return "mostly a verb"

    if word in lemmas.get("ADJ", ()) or word in lemmas.get("ADV", ()):
        if own - plural > ADJ_MAX_PLURAL_GAP:
            return "mostly an adjective or adverb"

    if len(word) >= ABSTRACT_SUFFIX_MIN_LENGTH and word.endswith(ABSTRACT_SUFFIXES):
        return "abstract suffix"
    return None


@lru_cache(maxsize=None)
def _pool(pool_size: int) -> tuple[str, ...]:
    return tuple(top_n_list(LANG, pool_size))


def candidates(pool_size: int = POOL_SIZE) -> list[str]:
    """All acceptable words from the frequency pool, most frequent first."""
    seen: set[str] = set()
    out: list[str] = []
    for word in _pool(pool_size):
        if word not in seen and rejection_reason(word) is None:
            seen.add(word)
            out.append(word)
    return out


def build_words(target: int = TARGET, pool_size: int = POOL_SIZE) -> list[str]:
    """The ``target`` most frequent acceptable nouns, sorted alphabetically."""
    words = candidates(pool_size)
    if len(words) < target:
        raise RuntimeError(f"only {len(words)} candidates for a target of {target}")
    return sorted(words[:target])


def render(words: list[str]) -> str:
    return "".join(f"{w}\n" for w in words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    group.add_argument("--stdout", action="store_true", help="print the list instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the list")
    args = parser.parse_args(argv)

    text = render(build_words())
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date; rerun {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} words to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
