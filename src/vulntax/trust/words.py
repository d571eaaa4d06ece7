"""Data table: English function words, used to tell English text from other languages.

Closed-class words only (articles, pronouns, prepositions, conjunctions, auxiliaries,
common adverbs), lower case. They make up a quarter to a half of the words of any English
prose, vulnerability descriptions included, and rarely occur in other languages. Written
for vulntax from general English grammar; no word list was copied.
"""

ENGLISH_FUNCTION_WORDS = frozenset(
    """
    a about above after again against all also although am an and any are as at
    be because been before being below between both but by can cannot could
    did do does doing done down during each either else ever every few for from further
    had has have having he her here hers herself him himself his how however
    i if in into is it its itself just least less many may me might more most much must my
    myself neither no nor not now of off often on once one only or other our ours ourselves
    out over own per rather same shall she should since so some such than that the their
    theirs them themselves then there these they this those though through thus to too
    toward towards under unless until up upon us very via was we were what whatever when
    whenever where whereas whether which while who whom whose why will with within without
    would yet you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a table reads better as words
)

# The commonest function words of the other languages vulnerability text is most often
# written in (German, French, Spanish, Italian, Portuguese, Dutch), minus every word that
# is also English or frequent in English descriptions (in, is, on, die, no, …).
OTHER_FUNCTION_WORDS = frozenset(
    """
    der das und ist nicht ein eine einer eines einem einen zu mit von auf für im den dem des
    sich wurde wurden werden kann können oder auch bei durch wird sind aus nach wie über
    als noch nur dieser diese dieses ohne unter zum zur vom beim hat haben
    le la les des et est une du pour dans qui pas sur avec ce cette ces sont aux par être
    peut été elle il ils nous vous mais ou où
    el los las es una del que por para con se su sus lo al como más pero está son ser
    puede fue sin sobre entre también
    il lo gli di che della delle dei degli nel nella sono può questo questa essere
    os um uma da dos das em não uma pelo pela ao ser são está
    het een van te dat niet voor zijn wordt werd kan ook bij naar worden
    """.split()  # noqa: SIM905 - a table reads better as words
)
