"""A few kilobytes of plain English, written for this project, so language models can be tried offline.

The text is original to DeepCanvas (no third-party source), uses a small character set so a
character model learns it quickly, and repeats phrases on purpose so progress is visible.
"""

BUILTIN_TEXT = """\
The Keeper of the Small Light

On a low island at the edge of the bay there stood a small light, and in the small light there lived a
keeper. Every evening the keeper climbed the stairs, one hundred and twelve of them, and every evening
the keeper counted them aloud. One, two, three, and so on, up to the lamp room, where the glass was cold
and the wind spoke against the windows. The keeper trimmed the wick, filled the oil, and wiped the lens
until it shone. Then the keeper lit the lamp, and the light went out over the water.

The boats came home by that light. The fishing boats came first, low and heavy, with their nets
piled high. After them came the ferry, slow and patient, with its rows of yellow windows. Last of all
came the little boat of the baker, who crossed the bay every night to bring bread to the island in the
morning. The baker always rang a bell when passing the rock, and the keeper always waved back, though
neither could see the other in the dark.

In the morning the keeper put out the lamp, wrote in the log, and went down the stairs again. One
hundred and twelve, one hundred and eleven, one hundred and ten, and so on, down to the door. The log
was a thick book with a green cover. In it the keeper wrote the weather, the wind, the boats that had
passed, and anything else that seemed worth keeping. Calm sea, light wind from the west, three boats
and the ferry. Rain at midnight. Fog before dawn. A seal on the north rocks. The bread was warm.

Winter came, and the nights grew long. The keeper climbed the stairs earlier and came down later. The
wind grew loud, and the sea grew grey and white. Some nights no boats came at all, and the keeper
wrote only the weather in the log. Storm from the east. Waves over the north rocks. No boats. The
light burned all night. Still the keeper trimmed the wick, filled the oil, and wiped the lens, because
a light is kept for the boat that might come, not only for the boats that do.

One night in the deepest part of winter the fog came down so thick that the light could hardly reach
the water. The keeper stood in the lamp room and listened. Far out in the fog a bell was ringing. It
was the baker, lost, turning in slow circles, ringing and ringing. The keeper took the old horn from
its hook on the wall and went out onto the gallery. The keeper blew the horn, long and low, and waited,
and blew it again. The bell stopped, and then it rang once more, a little closer. Horn and bell, horn
and bell, all through the night, until the small boat came out of the fog and touched the stones below.

In the morning the baker climbed the stairs for the first time, one hundred and twelve of them, and
counted them aloud. The two of them sat in the lamp room and ate warm bread and watched the fog lift
from the bay. The keeper wrote in the log. Thick fog. No wind. One boat, found by the horn. The bread
was warm.

After that winter the baker came up the stairs every week, and sometimes stayed to trim the wick or
wipe the lens. The baker learned the weather words and the wind words, and wrote them in the log in a
careful round hand. Calm sea. Light wind from the south. Four boats and the ferry. A heron on the
landing. The keeper learned to bake a plain loaf, which came out flat the first time, and better the
second time, and good the third time, and was written in the log as well.

Years went by. The lamp was changed for a brighter one, and then for an electric one that needed no
oil and no wick. The keeper still climbed the stairs every evening, because a light is a thing to be
looked after, even when it can look after itself. The keeper still wiped the lens and still wrote in
the log. The green book was full, and then a blue book, and then a red one, and they stood in a row on
the shelf by the window.

When the keeper grew old, a young person from the village came to learn the work. The keeper showed
how to climb the stairs and count them aloud, how to wipe the lens, how to read the sky and the water,
and how to write the log. Calm sea. Light wind from the west. Three boats and the ferry. The young
keeper asked why the books were kept, since the light would shine whether or not anyone wrote about it.

The old keeper took down the green book and opened it to the night of the fog. Thick fog. No wind. One
boat, found by the horn. The bread was warm. The young keeper read it twice and said nothing, and then
took a pen and a new book, and wrote the date at the top of the first page.

That evening the young keeper climbed the stairs, one hundred and twelve of them, and counted them
aloud. The lamp came on, and the light went out over the water, and far across the bay a small bell
rang once, and the light answered it the only way a light can, by staying lit until morning.
"""
