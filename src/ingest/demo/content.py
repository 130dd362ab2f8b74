"""Text of the demo news site: four fictional sources and their stories.

Everything here is invented for news-ingest: the region around Greywater Bay,
the port city of Portville, the inland Calder Valley and the French-speaking
harbour town of Belcôte do not exist, and neither do the people quoted.

A :class:`Story` is one publication: one article on one source. The two wire
stories of Continental Press appear three times each (on the wire's own site,
re-headlined on The Harbour Times, trimmed on the Valley Courier); those
copies are separate stories because they are separate publications.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone

DASH = "\u2014"
WIRE_CREDIT = "Continental Press"

GMT = UTC
EDT = timezone(timedelta(hours=-4), "EDT")
CET = timezone(timedelta(hours=1), "CET")


@dataclass(frozen=True)
class SiteInfo:
    """A source of the demo site, independent of the port it is served on."""

    id: str
    name: str
    kind: str  # "publisher" or "wire"
    host: str  # virtual host name, e.g. "www.harbour-times.test"
    prefix: str  # path prefix of every resource of the site, e.g. "/ht/"
    feed_path: str
    feed_format: str  # "rss" or "atom"
    country: str
    language: str  # ISO 639-1
    locale: str  # BCP 47, used in <html lang> and feeds
    tagline: str
    credits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Story:
    """One article as published by one source."""

    key: str  # unique id of the publication
    site: str  # SiteInfo.id
    path: str  # canonical path of the page
    title: str
    author: str
    published: datetime  # timezone-aware
    section: str
    summary: str
    paragraphs: tuple[str, ...]
    pull_quote: str
    # Paths (with query) under which the feed lists the story; () = (path,).
    # Listing the same page twice makes an exact duplicate in the feed.
    feed_links: tuple[str, ...] = ()
    # Other paths that serve the same page (its canonical stays ``path``).
    aliases: tuple[str, ...] = ()
    # False: the feed entry carries no date (the page still has it).
    date_in_feed: bool = True
    # Key of the wire story this one republishes, if any.
    syndicated_from: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def listed_paths(self) -> tuple[str, ...]:
        return self.feed_links or (self.path,)

    @property
    def served_paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return len(self.text.split())


SITES: tuple[SiteInfo, ...] = (
    SiteInfo(
        id="harbour-times",
        name="The Harbour Times",
        kind="publisher",
        host="www.harbour-times.test",
        prefix="/ht/",
        feed_path="/ht/rss.xml",
        feed_format="rss",
        country="GB",
        language="en",
        locale="en-GB",
        tagline="Portville's paper since 1868",
    ),
    SiteInfo(
        id="valley-courier",
        name="Valley Courier",
        kind="publisher",
        host="www.valley-courier.test",
        prefix="/vc/",
        feed_path="/vc/atom.xml",
        feed_format="atom",
        country="US",
        language="en",
        locale="en-US",
        tagline="News for Millbrook, Ashford Falls and all of Calder County",
    ),
    SiteInfo(
        id="le-quotidien-du-port",
        name="Le Quotidien du Port",
        kind="publisher",
        host="www.le-quotidien-du-port.test",
        prefix="/lq/",
        feed_path="/lq/fr/rss.xml",
        feed_format="rss",
        country="FR",
        language="fr",
        locale="fr-FR",
        tagline="L'actualité de Belcôte et de la baie",
    ),
    SiteInfo(
        id="continental-press",
        name="Continental Press",
        kind="wire",
        host="www.continental-press.test",
        prefix="/cp/",
        feed_path="/cp/wire.xml",
        feed_format="rss",
        country="GB",
        language="en",
        locale="en-GB",
        tagline="Independent news agency for the Greywater region",
        credits=("Continental Press", "CP"),
    ),
)


def _paras(text: str) -> tuple[str, ...]:
    """Split text on blank lines; lines inside a paragraph are joined by spaces."""
    blocks = [" ".join(line.strip() for line in b.splitlines()) for b in text.split("\n\n")]
    return tuple(b.strip() for b in blocks if b.strip())


# ---------------------------------------------------------------------------
# The Harbour Times
# ---------------------------------------------------------------------------

HT_HARBOUR = Story(
    key="ht-harbour-expansion",
    site="harbour-times",
    path="/ht/news/2026/03/harbour-expansion-approved",
    title="Harbour expansion approved after two-year planning battle",
    author="Eleanor Voss",
    published=datetime(2026, 3, 9, 18, 30, tzinfo=GMT),
    section="News",
    summary=(
        "The £410m plan for a deep-water container berth at Portville's East Quay has "
        "been approved, with conditions on noise, dredging and local jobs."
    ),
    pull_quote="This is the biggest change to the waterfront since the graving docks closed.",
    # Listed twice in the feed: once with tracking parameters, once plain.
    feed_links=(
        "/ht/news/2026/03/harbour-expansion-approved?utm_source=rss&utm_medium=feed",
        "/ht/news/2026/03/harbour-expansion-approved",
    ),
    tags=("Harbour", "Planning", "East Quay"),
    paragraphs=_paras("""
Plans to build a deep-water container berth at Portville's East Quay were approved on
Monday evening, ending a planning dispute that has divided the city for more than two
years.

The Portville Harbour Authority says the £410 million scheme will allow vessels of up to
16 metres draught to dock at the port for the first time, bringing ships that currently
unload at larger terminals further along the coast. Work on dredging the approach
channel is expected to begin in the autumn, with the first berth open by 2029.

The regional planning panel voted five to two in favour after a six-hour hearing at the
Guildhall, where more than forty residents, fishermen and business owners spoke. The
panel attached eighteen conditions to its decision, including limits on night-time crane
work, continuous monitoring of silt levels in the estuary and a requirement that at least
a third of construction jobs go to people living within twenty miles.

"This is the biggest change to the waterfront since the graving docks closed," said the
authority's chief executive, Lionel Marsh, speaking outside the hearing. "We have
listened, we have changed the design three times, and we think the conditions are fair.
Now we have to deliver."

Opponents had argued that the berth would bring hundreds of extra lorry movements a day
through the narrow streets of the Old Town and damage the mudflats at Heron Point, which
are home to thousands of wintering wading birds. The Greywater Estuary Trust said it was
"deeply disappointed" and was taking legal advice on whether to seek a judicial review.

Fishermen who work from the inner harbour were more divided. Sandra Kettle, whose family
has run a crab boat from the harbour for three generations, said she welcomed the
promise of a new fish market as part of the scheme but feared disruption during
construction. "They tell us the channel will be closed for days, not weeks. We'll hold
them to that," she said.

The city council, which does not have the final say on port developments, has previously
backed the project on the grounds that it would bring an estimated 1,200 permanent jobs.
Council leader Martin Oduya said the decision was "a vote of confidence in Portville" and
promised to publish a transport plan for the eastern approach road before the summer.

The authority must now secure a marine licence before dredging can begin. A decision on
that is expected in July.
"""),
)

HT_STORM = Story(
    key="ht-storm-brannock",
    site="harbour-times",
    path="/ht/news/2026/03/storm",
    title="Storm Brannock batters coast as thousands lose power",
    author="Tom Adeyemi",
    published=datetime(2026, 3, 10, 7, 15, tzinfo=GMT),
    section="News",
    summary=(
        "Gusts of more than 80mph tore roofs from buildings and flooded the seafront "
        "overnight, leaving 14,000 homes without electricity."
    ),
    pull_quote="The sea came over the wall like it wasn't there.",
    # The feed links the "amp" alias; the page's canonical is the plain path.
    feed_links=("/ht/news/2026/03/storm-amp",),
    aliases=("/ht/news/2026/03/storm-amp",),
    tags=("Weather", "Storm Brannock", "Seafront"),
    paragraphs=_paras("""
Storm Brannock swept across the coast overnight, bringing gusts of more than 80mph,
flooding parts of Portville's seafront and leaving about 14,000 homes without power.

Forecasters had issued an amber warning for wind on Sunday afternoon, but the storm
intensified faster than expected as it crossed the bay. The strongest gust, 84mph, was
recorded at the Gannet Head weather station shortly after 2am.

Emergency services received more than 600 calls between midnight and dawn. Fire crews
rescued two people from a car trapped by floodwater in the Marine Parade underpass, and
a section of the roof of the Winter Gardens pavilion was torn away and landed in the road
outside. No serious injuries have been reported.

"The sea came over the wall like it wasn't there," said Dev Raman, who runs a café
opposite the pier and spent the night carrying stock upstairs. "I've been here eleven
years and I have never seen the water come this far up the street."

The electricity network operator said engineers were working to reconnect customers but
warned that some rural properties in the Calder hills could be without power until
Wednesday because fallen trees had blocked access roads. Welfare centres have been opened
at the Leisure Centre on Dock Road and at St Brendan's church hall.

Rail services between Portville and the valley were suspended after a tree fell on the
line near Millbrook, and the morning ferry to Belcôte was cancelled. The harbour
authority closed the outer harbour to all traffic until the afternoon high tide had
passed.

Schools in the coastal wards have been told to stay closed today while buildings are
checked. The city council has asked residents not to drive along the seafront, where
shingle and debris have been thrown across the carriageway, and to check on elderly
neighbours.

Forecasters expect the wind to ease through the day, although further heavy rain is
likely tonight, raising the risk of river flooding inland.
"""),
)

HT_FOOTBALL = Story(
    key="ht-athletic-cup",
    site="harbour-times",
    path="/ht/sport/2026/03/athletic-reach-cup-semi-finals",
    title="Portville Athletic snatch late winner to reach County Cup semi-finals",
    author="Gareth Pryce",
    published=datetime(2026, 3, 11, 22, 5, tzinfo=GMT),
    section="Sport",
    summary=(
        "A stoppage-time header from teenage defender Callum Reid sent Athletic past "
        "Eastbridge Town in a rain-soaked quarter-final at the Quayside Ground."
    ),
    pull_quote="I just shut my eyes and headed it. I didn't see it go in.",
    tags=("Football", "Portville Athletic", "County Cup"),
    paragraphs=_paras("""
Portville Athletic are into the semi-finals of the County Cup for the first time in nine
years after a stoppage-time header from 18-year-old Callum Reid beat Eastbridge Town 2-1
at a rain-soaked Quayside Ground on Wednesday night.

The match was put back 24 hours after Storm Brannock damaged part of the roof of the
North Stand, and the 4,300 fans who did attend were packed into the other three sides of
the ground. Those who made the effort were rewarded with a tie that swung back and forth
in a swirling wind.

Eastbridge took the lead after 23 minutes when Athletic goalkeeper Nathan Cole misjudged a
long free kick and Danny Ferris nodded in at the far post. The home side struggled to
build any rhythm in the first half, with their long balls repeatedly held up by the wind.

Manager Rhona Blake made a double change at half-time, bringing on winger Isaac Mensah and
moving to a back three, and the switch paid off within ten minutes. Mensah beat two
defenders on the left and cut the ball back for captain Luke Harrow to sweep home the
equaliser.

Both sides had chances to win it in normal time. Cole made amends for his early error
with a fine double save from Ferris and Ryan Sully, while Mensah hit the post from twenty
yards with a quarter of an hour left.

The winner came in the third minute of added time. Mensah's corner was flicked on at the
near post and Reid, making only his fourth senior appearance, threw himself forward to
head in from six yards. "I just shut my eyes and headed it. I didn't see it go in," he
said afterwards. "I only knew when the lads jumped on me."

Blake praised the character of her side. "We were poor for 45 minutes and I told them
so," she said. "But they kept going, the crowd kept going, and on a night like that you
need both."

Athletic will face either Kellsmouth United or holders Saltmarsh Rovers in the
semi-final, which will be played at a neutral ground next month. The draw takes place on
Friday.
"""),
)

HT_QUAY_STREET = Story(
    key="ht-quay-street-vote",
    site="harbour-times",
    path="/ht/politics/2026/03/quay-street-pedestrianisation-vote",
    title="Council votes to pedestrianise Quay Street after heated debate",
    author="Priya Natarajan",
    published=datetime(2026, 3, 12, 20, 40, tzinfo=GMT),
    section="Politics",
    summary=(
        "Councillors backed a car-free Quay Street by 29 votes to 24, but traders warn "
        "that deliveries and disabled access have not been solved."
    ),
    pull_quote="We are not closing a street, we are opening one.",
    tags=("City council", "Transport", "Quay Street"),
    paragraphs=_paras("""
Quay Street will become largely car-free from September after Portville City Council
voted 29 to 24 in favour of pedestrianising the historic shopping street on Thursday
night.

The vote followed nearly three hours of debate in a packed council chamber, with the
public gallery full and a further hundred people watching on a screen in the Guildhall
foyer. Two members of the ruling group voted against the plan and one abstained.

Under the scheme, private cars will be banned between 10am and 6pm, and the road will be
resurfaced with granite paving, new benches and planting. Delivery vehicles will be
allowed in before 10am and after 6pm, and blue badge holders will be able to use twelve
new disabled parking bays on Chandler's Row, at the eastern end of the street.

Councillor Amira Hasan, cabinet member for transport, said the street had become "a
traffic jam with shops attached" and that footfall on pedestrianised streets in
comparable cities had risen by as much as a fifth. "We are not closing a street, we are
opening one," she told the chamber.

Opposition councillors said the consultation had been rushed and that the £3.2 million
cost would be better spent on repairing roads damaged in this week's storm. Councillor
Graham Pike said traders at the western end of the street, furthest from the car parks,
would "bear the cost of an experiment dreamed up in an office".

The Quay Street Traders' Association, which represents 64 businesses, said its members
remained split. Its chair, Helen Moorcroft, who runs a bookshop on the street, said she
supported the idea in principle but that questions about deliveries to businesses
without rear access had not been answered. "Half of us want this and half of us are
frightened of it," she said. "The council now has six months to prove the frightened
half wrong."

Disability campaigners welcomed the new parking bays but asked for a guarantee that the
taxi rank outside the old Corn Exchange would stay. Council officers said the rank would
be kept and moved a few metres closer to the junction.

Work is due to start in June. The council has promised a review of the scheme after
twelve months.
"""),
)

HT_SEAGRASS = Story(
    key="ht-seagrass-survey",
    site="harbour-times",
    path="/ht/science/2026/03/seagrass-recovery-greywater-bay",
    title="Seagrass meadows returning to Greywater Bay, survey finds",
    author="Siobhan Kerr",
    published=datetime(2026, 3, 13, 9, 0, tzinfo=GMT),
    section="Science",
    summary=(
        "Divers and drones mapped 41 hectares of seagrass off Heron Point, almost double "
        "the area recorded a decade ago, in a survey by the University of Portville."
    ),
    pull_quote="Ten years ago we were writing its obituary.",
    tags=("Science", "Environment", "Greywater Bay"),
    paragraphs=_paras("""
Seagrass meadows in Greywater Bay have almost doubled in size over the past decade,
according to a survey published by marine scientists at the University of Portville.

The team used divers, underwater cameras and a fleet of small drones to map the sea floor
off Heron Point and the northern shore of the bay last summer. They recorded 41 hectares
of seagrass, compared with about 22 hectares in the last full survey in 2015.

Seagrass is a flowering plant that grows in shallow, sheltered water. It provides nursery
grounds for young fish, including cod and pollock, stabilises sediment on the sea bed
and stores carbon in the mud beneath it far faster than many forests on land.

"Ten years ago we were writing its obituary," said Dr Farah Linden, who led the study.
"Now we are finding shoots in places where there has been nothing but bare sand for as
long as anyone has been keeping records."

The researchers believe several changes have helped. A mooring scheme introduced in 2017
replaced traditional chain anchors, which scour the sea bed as boats swing with the tide,
with floating moorings in the most sensitive areas. Improvements to the sewage works at
Saltmarsh have also reduced the nutrients reaching the bay, which had fed the algae that
blocked sunlight from the plants.

Volunteers have played a part too. Since 2019, members of the Greywater Estuary Trust and
pupils from eleven local schools have collected seeds from healthy meadows, packed them
into hessian bags and lowered them into bare patches. Around a fifth of the new growth is
in areas where bags were planted.

The report warns that the recovery remains fragile. Storms such as this week's can rip up
young plants, and the scientists say more work is needed to understand how the planned
dredging for the East Quay container berth might affect water clarity in the bay. The
harbour authority said it would fund monitoring of the meadows throughout construction
as part of its planning conditions.

The full survey will be presented at a public talk at the Maritime Museum on 2 April.
"""),
)

# ---------------------------------------------------------------------------
# Valley Courier
# ---------------------------------------------------------------------------

VC_FLOOD = Story(
    key="vc-flood-warnings-lifted",
    site="valley-courier",
    path="/vc/2026/03/10/calder-river-flood-warnings-lifted/",
    title="Calder River flood warnings lifted as storm moves inland",
    author="Rebecca Lin",
    published=datetime(2026, 3, 10, 16, 20, tzinfo=EDT),
    section="News",
    summary=(
        "The river crested just below the top of the levee at Millbrook on Tuesday "
        "morning. Officials say the valley escaped the worst, but dozens of basements "
        "flooded."
    ),
    pull_quote="We had about eight inches to spare. That's closer than anybody wants.",
    tags=("Weather", "Calder River", "Millbrook"),
    paragraphs=_paras("""
Flood warnings along the Calder River were lifted Tuesday afternoon after the river
crested just below the top of the levee at Millbrook, sparing the town's downtown from
the flooding that officials had feared overnight.

The weather service said the river peaked at 21.4 feet at the Millbrook gauge around
7 a.m., the third-highest level on record and just eight inches below the top of the
earthen levee that protects Main Street and the riverfront neighborhood known as the
Flats.

"We had about eight inches to spare. That's closer than anybody wants," said Calder
County emergency management director Joe Whitaker at a briefing at the fire station. "A
lot of people worked through the night to make sure we got through this."

The heavy rain came from the remains of the storm that battered the coast on Sunday
night and Monday. Parts of the upper valley received more than four inches of rain in 24
hours, on ground that was already saturated after a wet February.

Volunteers filled more than 9,000 sandbags at the county highway garage on Monday, and
crews from the public works department patrolled the levee every two hours overnight
looking for seepage. Two short sections were reinforced with sandbags and plastic
sheeting after small boils appeared near the old railroad trestle.

Even with the levee holding, dozens of homes in low-lying areas outside its protection
had water in their basements. Route 9 between Millbrook and Ashford Falls remained closed
Tuesday because of a washout near Cutter's Creek, and the county said it did not yet know
when the road would reopen.

Marisol Vega, who lives on River Road just outside the levee, said she had moved her
family's furniture to the second floor on Monday afternoon. "The basement's got a foot of
water in it, the furnace is gone, but we're okay," she said. "I keep telling myself
that."

The county has set up a hotline for residents to report storm damage, which will help
officials decide whether to seek state disaster assistance. Whitaker urged people to stay
away from the riverbank, where currents remain fast and debris is still coming
downstream.
"""),
)

VC_OTTERS = Story(
    key="vc-otters-edna",
    site="valley-courier",
    path="/vc/2026/03/11/river-otters-edna-study/",
    title="Valley researchers track river otters' comeback using DNA in creek water",
    author="Owen Castellano",
    published=datetime(2026, 3, 11, 10, 0, tzinfo=EDT),
    section="Science",
    summary=(
        "A Calder Valley College project found otter DNA in 34 of 50 creeks sampled by "
        "volunteers, suggesting the animals have spread further than anyone realized."
    ),
    pull_quote="You don't have to see the animal. It leaves its signature in the water.",
    tags=("Science", "Wildlife", "Calder Valley College"),
    paragraphs=_paras("""
River otters have returned to far more of the Calder Valley than biologists realized,
according to a study that used traces of DNA in creek water to detect the elusive
animals.

Researchers at Calder Valley College trained 80 volunteers, many of them high school
students and retirees, to collect water samples from 50 creeks and ponds across the
valley last fall. Each sample was filtered, and the material trapped in the filter was
tested in the college's lab for genetic material shed by animals through skin, fur and
droppings.

Otter DNA turned up at 34 of the 50 sites, including streams in the upper valley where
the last confirmed sighting was more than 40 years ago.

"You don't have to see the animal. It leaves its signature in the water," said biology
professor Anita Sorensen, who led the project. "Otters are shy, they're mostly active at
night, and they cover a lot of ground. Trying to count them with cameras and footprints
is slow and expensive. This is a much faster way to get a picture of the whole
watershed."

The technique, known as environmental DNA or eDNA, has been used in recent years to
track everything from invasive carp to rare salamanders. Sorensen said the cost of
testing had fallen far enough that a small college could now run a valley-wide survey on
a grant of under $40,000.

River otters were trapped heavily in the region through the early twentieth century, and
pollution from tanneries and paper mills left many streams unable to support the fish
they feed on. Cleanup of the river in the 1980s and 1990s and a state reintroduction
program in the neighboring watershed are believed to have allowed the animals to move
back.

The study also found DNA from mink in most of the same creeks and detected brook trout
in several streams where they had not been recorded before.

Not everyone is thrilled. A few owners of private fishing ponds have complained that
otters are eating their stocked fish. The state wildlife agency said it would offer
advice on fencing but has no plans to change the animals' protected status.

The team plans to repeat the sampling every two years and will publish its results in a
regional ecology journal this summer.
"""),
)

VC_DINER = Story(
    key="vc-blue-kettle-diner",
    site="valley-courier",
    path="/vc/2026/03/12/blue-kettle-diner-75-years/",
    title="Ashford Falls diner marks 75 years of pancakes and politics",
    author="Bill Hartigan",
    published=datetime(2026, 3, 12, 8, 30, tzinfo=EDT),
    section="Community",
    summary=(
        "The Blue Kettle has served farmers, mill workers and every candidate for county "
        "office since 1951. On Saturday, it celebrates its anniversary."
    ),
    pull_quote="If you want to know what this town thinks, sit at the counter for an hour.",
    # The feed entry for this story has no date; the page carries it in its meta.
    date_in_feed=False,
    tags=("Ashford Falls", "Business", "Community"),
    paragraphs=_paras("""
The coffee at the Blue Kettle Diner in Ashford Falls costs a dollar and a quarter,
refills included, and Dorothy Pruitt says she has no plans to change that.

"People ask me how we make money on it," said Pruitt, 68, who has owned the diner on
Mill Street since 1994. "We don't. We make it on the pancakes."

The Blue Kettle will mark 75 years in business on Saturday with a community breakfast, a
display of old photographs and, at noon, the unveiling of a plaque on the wall beside
booth number four, where generations of local politicians have met voters, argued with
each other and, at least once, announced a run for governor.

The diner was opened in 1951 by Walter and June Kowalski, who bought a retired railroad
dining car and parked it on a lot next to the woolen mill. The mill closed in 1978, but
the diner stayed, and the original car is still there, now joined to a larger brick
dining room built in the 1980s.

Regulars say little else has changed. The menu is printed on the same green card stock,
the counter stools are bolted to the same floor, and the buttermilk pancakes are still
made from a recipe June Kowalski wrote on the back of an invoice, which hangs framed
above the grill.

"If you want to know what this town thinks, sit at the counter for an hour," said Carl
Brennan, a retired dairy farmer who has eaten breakfast there most mornings for four
decades. "You'll hear about the school budget, the price of feed and who's not talking
to who. Sometimes all in the same sentence."

Candidates for county office have long treated a visit to the Blue Kettle as a ritual. A
framed collection of campaign buttons by the register runs from the 1950s to last year's
race for sheriff, and Pruitt keeps a guest book that she says has been signed by three
governors and "more county commissioners than I can count."

Pruitt said the diner survived the pandemic thanks to takeout orders and a fundraiser
organized by regulars, who raised enough to cover three months of rent. She has no plans
to retire, though her granddaughter Kayla now runs the kitchen on weekends.

Saturday's breakfast starts at 7 a.m. Pancakes will be 75 cents.
"""),
)

VC_BROADBAND = Story(
    key="vc-broadband-plan",
    site="valley-courier",
    path="/vc/2026/03/13/county-broadband-plan-approved/",
    title="County commissioners approve $18 million broadband plan for rural roads",
    author="Rebecca Lin",
    published=datetime(2026, 3, 13, 17, 45, tzinfo=EDT),
    section="Politics",
    summary=(
        "The plan would bring fiber internet to about 3,100 homes in the upper valley by "
        "the end of 2028, using federal and state grants."
    ),
    pull_quote="My kids do their homework in the library parking lot. That's where the signal is.",
    tags=("Calder County", "Broadband", "Commissioners"),
    paragraphs=_paras("""
Calder County commissioners voted 4-1 on Friday to approve an $18 million plan to bring
high-speed fiber internet to about 3,100 homes and farms in the upper valley that have
little or no service today.

Under the plan, the county will partner with the Calder Valley Electric Cooperative,
which will build and operate the network along its existing power lines. About
three-quarters of the cost will be covered by state and federal grants, with the county
contributing $2.5 million from its share of pandemic recovery funds and the cooperative
borrowing the rest.

Construction will start this summer in the Cutter's Creek and Holloway areas, which had
the lowest speeds in a survey the county carried out last year, and is scheduled to be
finished by the end of 2028. Residents will pay between $55 and $85 a month depending on
the speed they choose.

More than 60 people attended Friday's meeting at the county building, and nearly all of
those who spoke supported the plan. "My kids do their homework in the library parking
lot. That's where the signal is," said Tanya Brooks, who lives on a farm off Holloway
Road. "We've been promised this for ten years."

Commissioner Ray Dunbar cast the lone vote against, saying he supported the goal but
worried about the county taking on risk if fewer households sign up than expected. "I
want every home in this county connected," he said. "I just don't want the taxpayers
holding the bag if the numbers don't work."

Cooperative general manager Lisa Tran said the network would pay for itself if about 40
percent of eligible homes subscribed, and that more than half had already signed
non-binding pledges during a sign-up drive last fall.

The county's existing cable provider, which serves the towns of Millbrook and Ashford
Falls, had argued that the money should be used to extend its own network.
Commissioners said its proposal would have covered fewer homes at a higher cost per
connection.

Commission chair Dolores Ruiz called the vote "the most important thing this board will
do this year." The first homes are expected to be connected by next spring.
"""),
)

# ---------------------------------------------------------------------------
# Le Quotidien du Port (in French)
# ---------------------------------------------------------------------------

LQ_DOCKERS = Story(
    key="lq-dockers-inquiets",
    site="le-quotidien-du-port",
    path="/lq/fr/economie/extension-du-port-inquietude-des-dockers-1187.html",
    title="Extension du port de Portville : les dockers de Belcôte s'inquiètent pour leurs emplois",
    author="Camille Dufresne",
    published=datetime(2026, 3, 10, 11, 0, tzinfo=CET),
    section="Économie",
    summary=(
        "Au lendemain du feu vert donné au nouveau terminal de Portville, les syndicats du "
        "port de Belcôte craignent de voir partir une partie du trafic de conteneurs."
    ),
    pull_quote=(
        "On ne peut pas lutter contre un quai en eau profonde avec des grues des années 1980."
    ),
    tags=("Port", "Emploi", "Syndicats"),
    paragraphs=_paras("""
Au lendemain de l'approbation du nouveau terminal à conteneurs de Portville, de l'autre
côté de la baie, l'inquiétude grandit parmi les dockers de Belcôte. Lundi soir, la
commission d'urbanisme régionale a donné son feu vert à un quai en eau profonde capable
d'accueillir les plus grands navires de la région.

Pour les 420 ouvriers portuaires de Belcôte, la nouvelle tombe mal. Le port traite
aujourd'hui environ 180 000 conteneurs par an, dont une grande partie arrive sur des
navires trop gros pour entrer dans le port de Portville. Une fois le nouveau quai
construit, ces navires pourraient ne plus avoir besoin de faire escale chez nous.

« On ne peut pas lutter contre un quai en eau profonde avec des grues des années 1980 »,
résume Franck Le Goff, secrétaire du syndicat des dockers, rencontré mardi matin devant
la capitainerie. « Si rien ne bouge, on perdra la moitié du trafic en dix ans. »

La direction du port se veut plus rassurante. Selon sa présidente, Isabelle Carré, les
deux ports sont « complémentaires » : Belcôte conserve un avantage pour le vrac agricole,
le bois et les ferries, et le chantier de Portville ne sera pas terminé avant 2029. Elle
rappelle qu'un plan d'investissement de 60 millions d'euros, prévoyant deux nouvelles
grues et l'automatisation partielle du terminal nord, doit être présenté au conseil
d'administration en avril.

Les élus locaux, eux, réclament une coordination entre les deux rives. Le maire de
Belcôte, Étienne Faure, a écrit à la gouverneure régionale pour demander la création
d'une instance commune chargée de répartir les trafics et de partager le coût du dragage
du chenal. « La baie est une seule et même voie d'eau. Il serait absurde que deux ports
voisins se livrent une guerre des prix », estime-t-il.

Chez les commerçants du quartier du port, on oscille entre fatalisme et colère. « Nos
clients, ce sont les équipages des navires et les dockers. S'ils partent, on ferme »,
explique Nadia Benali, qui tient une brasserie face à la gare maritime depuis quinze ans.

Les syndicats ont prévu une assemblée générale jeudi soir à la Bourse du travail. Un
mouvement de grève n'est pas exclu, mais Franck Le Goff assure vouloir « d'abord
discuter ». La direction du port a proposé une réunion de concertation la semaine
prochaine.
"""),
)

LQ_TEMPETE = Story(
    key="lq-tempete-brannock",
    site="le-quotidien-du-port",
    path="/lq/fr/societe/tempete-brannock-bilan-belcote-1191.html",
    title="Tempête Brannock : la digue a tenu, mais le front de mer est dévasté",
    author="Julien Marchetti",
    published=datetime(2026, 3, 10, 19, 30, tzinfo=CET),
    section="Société",
    summary=(
        "Commerces inondés, toitures arrachées, bateaux endommagés : Belcôte fait le bilan "
        "d'une nuit de tempête. Aucune victime n'est à déplorer."
    ),
    pull_quote="En quarante ans de métier, je n'avais jamais vu la mer monter aussi vite.",
    tags=("Tempête", "Météo", "Front de mer"),
    paragraphs=_paras("""
Au petit matin, la promenade de Belcôte ressemblait à un champ de bataille. Galets
projetés sur la chaussée, vitrines brisées, mobilier urbain arraché : la tempête
Brannock, qui a balayé la côte dans la nuit de dimanche à lundi, a laissé derrière elle
des dégâts considérables. Aucune victime n'est toutefois à déplorer.

Les rafales ont atteint 128 km/h au sémaphore de la pointe du Crochet vers 3 heures du
matin, au moment même de la pleine mer. La combinaison du vent, de la houle et d'un fort
coefficient de marée a provoqué des submersions sur une grande partie du front de mer.

La digue principale, renforcée il y a six ans, a tenu. Sans ces travaux, « le quartier
Saint-Nicolas aurait été sous l'eau », estime l'adjoint au maire chargé de la sécurité,
Gilles Aubry, qui a suivi la situation toute la nuit depuis le poste de commandement
installé à la mairie.

Dans le port de plaisance, une dizaine de voiliers ont rompu leurs amarres et se sont
échoués contre les pontons. « En quarante ans de métier, je n'avais jamais vu la mer
monter aussi vite », témoigne Yves Kerbrat, patron pêcheur, qui a passé la nuit à
surveiller son chalutier. Son bateau est intact, mais plusieurs de ses collègues ont
perdu des casiers et des filets.

Près de 6 000 foyers ont été privés d'électricité pendant plusieurs heures. Lundi soir,
le gestionnaire du réseau annonçait que la quasi-totalité des clients avait été
rétablie, à l'exception de quelques hameaux de l'arrière-pays où des arbres sont tombés
sur les lignes.

Les écoles du front de mer resteront fermées mardi, le temps que les bâtiments soient
inspectés. La traversée en ferry vers Portville, annulée lundi, devrait reprendre mardi à
la mi-journée si les conditions le permettent.

Les commerçants, eux, comptent leurs pertes. Au café Le Phare, l'eau est montée jusqu'à
cinquante centimètres dans la salle. « On a tout sorti ce matin, les frigos sont
fichus », soupire la gérante, Amélie Roux. La mairie a ouvert une cellule d'aide pour
accompagner les sinistrés dans leurs démarches auprès des assurances et demandera la
reconnaissance de l'état de catastrophe naturelle.

Les prévisionnistes annoncent un temps plus calme pour le reste de la semaine, mais
appellent à la prudence sur le littoral, où la houle restera forte jusqu'à mercredi.
"""),
)

LQ_FESTIVAL = Story(
    key="lq-festival-des-voiles",
    site="le-quotidien-du-port",
    path="/lq/fr/culture/festival-des-voiles-30e-edition-1203.html",
    title="Le festival des Voiles revient en juin avec un programme élargi",
    author="Hélène Robin",
    published=datetime(2026, 3, 12, 12, 15, tzinfo=CET),
    section="Culture",
    summary=(
        "Pour sa 30e édition, le festival maritime de Belcôte accueillera 150 vieux "
        "gréements, une grande scène sur le quai et, pour la première fois, une régate "
        "entre les deux rives de la baie."
    ),
    pull_quote="Trente ans, c'est l'âge de raison, mais on n'a pas envie d'être raisonnables.",
    tags=("Festival des Voiles", "Patrimoine maritime", "Sorties"),
    paragraphs=_paras("""
Le festival des Voiles de Belcôte fêtera sa trentième édition du 19 au 22 juin, avec un
programme plus ambitieux que jamais. Les organisateurs ont présenté mercredi soir, au
musée de la Marine, les grandes lignes d'une édition qui devrait attirer plus de 200 000
visiteurs.

Quelque 150 voiliers traditionnels, venus de toute la côte et de plusieurs pays voisins,
sont attendus dans le bassin à flot. Parmi eux, la goélette Marie-Jeanne, construite à
Belcôte en 1912 et restaurée pendant huit ans par une association de bénévoles, fera sa
première apparition publique depuis sa remise à l'eau.

Principale nouveauté : une régate reliera pour la première fois les deux rives de la
baie, entre Belcôte et Portville. « C'est un symbole fort, à un moment où l'on parle
beaucoup de concurrence entre nos deux ports », souligne la présidente du festival,
Martine Le Bihan. « Trente ans, c'est l'âge de raison, mais on n'a pas envie d'être
raisonnables. »

Côté musique, une grande scène sera installée sur le quai des Douanes : chants de
marins, fanfares et musiques traditionnelles se succéderont pendant quatre jours. Le
samedi soir, l'orchestre régional donnera un concert accompagné d'un chœur de 300
enfants des écoles de la ville. Le feu d'artifice, tiré depuis la digue, clôturera les
festivités le dimanche.

Le budget, de 2,4 millions d'euros, est en hausse de 15 %. La ville et la région en
financent un peu plus de la moitié ; le reste provient des mécènes, de la billetterie des
animations payantes et de la restauration. L'accès aux quais restera gratuit.

Les organisateurs assurent avoir tiré les leçons de la précédente édition, marquée par
des embouteillages monstres. Des parkings relais seront installés à l'entrée de la
ville, avec des navettes gratuites toutes les dix minutes, et la circulation sera
interdite dans le centre historique pendant les quatre jours.

La tempête Brannock n'a pas épargné le bassin à flot, mais les pontons endommagés seront
réparés d'ici à la fin mai, assure la capitainerie.

Plus de 900 bénévoles seront nécessaires pour faire tourner la manifestation. Les
inscriptions sont ouvertes jusqu'à la fin avril auprès de l'office de tourisme.
"""),
)

# ---------------------------------------------------------------------------
# Continental Press (wire service) and its republished copies
# ---------------------------------------------------------------------------

CP_RAIL = Story(
    key="cp-rail-strike",
    site="continental-press",
    path="/cp/wire/2026-03-11/rail-strike-called-off",
    title="Rail strike called off after overnight talks",
    author="Mara Ellison",
    published=datetime(2026, 3, 11, 6, 10, tzinfo=GMT),
    section="Regional",
    summary=(
        "Unions and Coastline Rail reached a pay deal in the early hours, calling off a "
        "48-hour strike that would have halted train services across the region."
    ),
    pull_quote="Nobody wanted a strike, least of all our members.",
    tags=("Transport", "Rail", "Industrial action"),
    paragraphs=_paras(f"""
PORTVILLE (CP) {DASH} A 48-hour rail strike that would have halted train services across
the region from Thursday was called off in the early hours of Wednesday after unions and
the operator Coastline Rail reached a pay agreement.

The deal, struck after more than fourteen hours of talks at the offices of the regional
conciliation service, gives drivers, guards and station staff a pay rise of 5.5 percent
this year and 4 percent next year, along with a commitment that no ticket offices will
close before 2028.

The Federation of Rail Workers said its members would be balloted on the offer over the
next two weeks but that its executive was recommending they accept it. "Nobody wanted a
strike, least of all our members," said the federation's general secretary, Alan
Prothero. "We have an offer that recognises the cost of living and protects the jobs our
passengers depend on."

Coastline Rail's managing director, Katherine Boyle, said the agreement was "fair and
affordable" and would be partly funded by changes to rostering that the company says
will reduce its reliance on overtime. She apologised to passengers for the uncertainty
of recent weeks.

The strike would have been the third this winter. Walkouts in December and January
cancelled nearly all services on the coast line and the Calder Valley branch, forcing
tens of thousands of commuters onto already congested roads and leaving some students
unable to reach their exams.

The dispute began last autumn when Coastline Rail proposed closing 23 ticket offices and
offered a pay rise of 3 percent, well below the rate of inflation at the time. The
company later withdrew the ticket office plan pending a review, but talks on pay had
repeatedly broken down.

Business groups welcomed the deal. The Portville Chamber of Commerce said the two earlier
strikes had cost shops and restaurants in the city centre an estimated 2.1 million in
lost trade.

Services on Thursday and Friday will run to the normal timetable, the company said,
although some early-morning trains may be affected by rosters that had already been
changed in preparation for the strike. Passengers who bought tickets for other days to
avoid the walkout can claim a refund.

The regional transport commissioner, Omar Haddad, said he would meet both sides next
month to discuss a longer-term agreement on working conditions. "This deal buys time,"
he said. "We need to use it."
"""),
)

CP_ELECTION = Story(
    key="cp-early-election",
    site="continental-press",
    path="/cp/wire/2026-03-12/governor-calls-early-election",
    title="Governor calls early regional election for June 14",
    author="Daniel Okafor",
    published=datetime(2026, 3, 12, 13, 0, tzinfo=GMT),
    section="Politics",
    summary=(
        "Governor Elise Morrow dissolved the Greywater Regional Assembly a year ahead of "
        "schedule after her coalition lost a crucial vote on the regional budget."
    ),
    pull_quote="The people should decide who governs this region, not a deadlock in the chamber.",
    tags=("Elections", "Regional Assembly", "Budget"),
    paragraphs=_paras(f"""
PORTVILLE (CP) {DASH} Governor Elise Morrow has called an early election to the Greywater
Regional Assembly for June 14, a year ahead of schedule, after her coalition lost a
crucial vote on the regional budget.

Morrow announced the dissolution of the assembly in a brief statement outside the
governor's residence on Thursday morning, less than 24 hours after the budget was
defeated by 38 votes to 35. Two members of her own Unity party voted with the
opposition, and three abstained.

"The people should decide who governs this region, not a deadlock in the chamber,"
Morrow said. "I will put our record, and our plan for the next four years, in front of
the voters." She did not take questions.

The budget, worth about 6.8 billion, included more spending on flood defences and rural
broadband but would have raised the regional fuel duty for the first time in eight
years. The increase was opposed by farmers' groups and hauliers and became a rallying
point for the opposition Citizens' Alliance, led by former Portville mayor Victor Hale.

Hale said his party was ready for the campaign. "This government has run out of ideas
and now it has run out of votes," he told reporters at the assembly building. "We will
offer a budget that doesn't punish people for living in the countryside."

Opinion polls have shown the two main parties close for most of the past year, with the
Greens and the regionalist Coastal League each polling around 10 percent. Under the
region's mixed electoral system, neither major party is likely to win a majority of the
73 seats outright.

The early election means the region will continue to operate on last year's budget until
a new assembly is formed, which the regional treasury said would delay some new
spending, including the second phase of the Calder flood defence programme.

The regional electoral commission said voter registration would close on May 22. Around
1.9 million people are eligible to vote.

Morrow, 54, has been governor since 2022. It is the first time an assembly has been
dissolved early since the region gained its current powers in 1999.
"""),
)


def _harbour_times_copy(wire: Story, key: str, path: str, title: str, delay: int) -> Story:
    """The Harbour Times runs wire copy under its own headline with a credit line."""
    return replace(
        wire,
        key=key,
        site="harbour-times",
        path=path,
        title=title,
        author=WIRE_CREDIT,
        published=wire.published + timedelta(minutes=delay),
        paragraphs=(*wire.paragraphs, f"{DASH} {WIRE_CREDIT}"),
        syndicated_from=wire.key,
        feed_links=(),
        aliases=(),
    )


def _valley_courier_copy(wire: Story, key: str, path: str, delay: int) -> Story:
    """The Valley Courier keeps the wire headline but trims the last two paragraphs."""
    return replace(
        wire,
        key=key,
        site="valley-courier",
        path=path,
        author=WIRE_CREDIT,
        published=(wire.published + timedelta(minutes=delay)).astimezone(EDT),
        paragraphs=wire.paragraphs[:-2],
        syndicated_from=wire.key,
        feed_links=(),
        aliases=(),
    )


HT_RAIL = _harbour_times_copy(
    CP_RAIL,
    "ht-rail-strike-wire",
    "/ht/news/2026/03/rail-strike-called-off",
    "Rail strike off: commuters spared after late-night pay deal",
    40,
)
HT_ELECTION = _harbour_times_copy(
    CP_ELECTION,
    "ht-early-election-wire",
    "/ht/politics/2026/03/snap-election-june-14",
    "Snap election: region goes to the polls on June 14",
    45,
)
VC_RAIL = _valley_courier_copy(
    CP_RAIL, "vc-rail-strike-wire", "/vc/2026/03/11/rail-strike-called-off-after-talks/", 95
)
VC_ELECTION = _valley_courier_copy(
    CP_ELECTION, "vc-early-election-wire", "/vc/2026/03/12/governor-calls-early-election/", 80
)

#: Every publication of the demo site, in no particular order.
STORIES: tuple[Story, ...] = (
    HT_HARBOUR,
    HT_STORM,
    HT_FOOTBALL,
    HT_QUAY_STREET,
    HT_SEAGRASS,
    HT_RAIL,
    HT_ELECTION,
    VC_FLOOD,
    VC_OTTERS,
    VC_DINER,
    VC_BROADBAND,
    VC_RAIL,
    VC_ELECTION,
    LQ_DOCKERS,
    LQ_TEMPETE,
    LQ_FESTIVAL,
    CP_RAIL,
    CP_ELECTION,
)

#: Original texts (not counting syndicated copies).
ORIGINAL_STORIES: tuple[Story, ...] = tuple(s for s in STORIES if s.syndicated_from is None)


@dataclass(frozen=True)
class Comment:
    name: str
    minutes_after: int
    text: str


COMMENTS_EN: tuple[Comment, ...] = (
    Comment("harbourwatcher", 35, "Good to see this covered properly. Will there be a follow-up?"),
    Comment("J. Pettigrew", 52, "I was there and the report gets it about right."),
    Comment("old_salt_61", 78, "Same old story. Decisions made first, questions asked later."),
    Comment("Maggie R", 95, "Thanks for the detail, couldn't find this anywhere else."),
    Comment("quaysider", 120, "Let's wait and see what actually happens before celebrating."),
    Comment("Devon T.", 143, "Shared this with my neighbours, we were all wondering."),
    Comment("ferryman", 188, "Would be good to hear from the people who actually work there."),
    Comment("calder_kate", 240, "Clear and fair piece. More of this please."),
)

COMMENTS_FR: tuple[Comment, ...] = (
    Comment("Marin56", 40, "Merci pour cet article très complet."),
    Comment("Anne-Laure B.", 65, "On attend de voir ce que la mairie va vraiment faire."),
    Comment(
        "vieux_gréement", 90, "Toujours la même chose, on décide d'abord et on consulte après."
    ),
    Comment("Pierrot du quai", 130, "J'y étais, c'est exactement ça. Bravo pour le reportage."),
    Comment("Sylvie", 175, "Une pensée pour tous les commerçants du front de mer."),
    Comment("belcotais", 220, "Il serait temps que les deux rives se parlent enfin."),
)
