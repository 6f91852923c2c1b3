package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// fact is one subject–answer pair before templating.
type fact struct {
	Subject string
	Answer  string
}

// taskDef says how one dataset-task (or one group of base facts) is built.
type taskDef struct {
	Name        string
	Metric      string // eval.Metric value
	Description string
	Sources     []source
	Derivation  string // how the items were derived, for PROVENANCE.md
	// Templates is the relation's pool of phrasings ("{X}" is the subject), at least 8. Each item is
	// trained on NTrain of them (the first drawn is its Prompt, the others its Phrasings) and holds one
	// more out as a paraphrase, so every held-out paraphrase uses a template that other items train on.
	Templates []string
	// Novel templates are never trained on with any item: each item holds them all out (eval.Example's
	// Novel), which measures generalisation to phrasings never seen at all.
	Novel    []string
	NTrain   int // trained phrasings per item
	Choices  int // multiple_choice: number of choices including the answer
	Lettered bool
	Max      int // 0: keep all; else a seeded sample of Max facts
	build    func(src string) ([]fact, error)
}

// newTasks are the new-knowledge tasks in the default round order.
var newTasks = []taskDef{
	{
		Name: "capitals", Metric: "exact_match",
		Description: "Capital city of a country or territory outside Europe.",
		Sources:     []source{srcCountries},
		Derivation: "countries.min.json: every entry whose continent is not EU or AN, whose capital is set and differs from " +
			"its name, name and capital ASCII-only. Subject = name, answer = capital. European capitals are in the base pack.",
		Templates: capitalTemplates, NTrain: 4,
		build: func(src string) ([]fact, error) {
			return countryFacts(src, func(c country) (string, bool) {
				return c.Capital, c.Continent != "EU" && c.Continent != "AN" && c.Capital != "" && c.Capital != c.Name
			})
		},
	},
	{
		Name: "collectives", Metric: "multiple_choice",
		Description: "Collective noun for a group of animals or people; 4 choices.",
		Sources:     []source{srcBsdgames},
		Derivation: "quiz/collectives (ind:coll): one item per '|' alternative of the individuals field, answer = first " +
			"alternative of the collective, quiz patterns expanded to their fullest form. Distractors: 3 other answers of the task.",
		Templates: []string{"What is a group of {X} called?", "A group of {X} is known as a what?",
			"What do you call a group of {X}?", "The collective noun for {X} is what?", "Many {X} together make a what?",
			"Which word names a group of {X}?", "What is the collective noun for {X}?", "A gathering of {X} is called a what?"},
		NTrain: 4, Choices: 4,
		build: func(src string) ([]fact, error) {
			return quizFacts(src, "collectives", 0, 1, true)
		},
	},
	{
		Name: "verse", Metric: "rouge_l",
		Description: "Next line of a famous line of Shakespeare or English poetry.",
		Sources:     []source{srcBsdgames},
		Derivation: "quiz/bard (line:next:work:character) and quiz/poetry (line:next:poem:author): subject = the line, " +
			"answer = the next line, both expanded to their fullest form.",
		Templates: []string{"Continue the verse: {X}", "What line comes after \"{X}\"?", "Give the line that follows: {X}",
			"Next line after \"{X}\"?", "Complete the poem: {X}", "What comes next? {X}", "Recite the next line: {X}",
			"After \"{X}\", which line follows?"},
		NTrain: 4,
		build: func(src string) ([]fact, error) {
			a, err := quizFacts(src, "bard", 0, 1, false)
			if err != nil {
				return nil, err
			}
			b, err := quizFacts(src, "poetry", 0, 1, false)
			return append(a, b...), err
		},
	},
	{
		Name: "elements", Metric: "edit_sim",
		Description: "Chemical element to \"symbol, atomic number\".",
		Sources:     []source{srcBsdgames},
		Derivation:  "quiz/elements (symbol:number:weight:element): subject = element name, answer = \"symbol, number\".",
		Templates: []string{"Symbol and atomic number of {X}?", "Give the chemical symbol and atomic number of {X}.",
			"{X}: symbol, atomic number?", "What are the symbol and atomic number of {X}?",
			"Which symbol and atomic number does {X} have?", "The element {X} has which symbol and atomic number?",
			"State the symbol and atomic number of {X}.", "For the element {X}, give its symbol and atomic number."},
		NTrain: 4,
		build: func(src string) ([]fact, error) {
			recs, err := quiz(src, "elements")
			if err != nil {
				return nil, err
			}
			var fs []fact
			for _, r := range recs {
				if len(r) >= 4 {
					fs = append(fs, fact{canon(r[3]), canon(r[0]) + ", " + canon(r[1])})
				}
			}
			return fs, nil
		},
	},
	{
		Name: "continents", Metric: "first_char",
		Description: "Continent of a country or territory; lettered options A–D in the prompt, the letter is the answer.",
		Sources:     []source{srcCountries},
		Derivation: "countries.min.json: every entry with an ASCII name and a continent other than AN. Options: the " +
			"continent and 3 others of the six, in seeded order.",
		Templates: []string{"Which continent is {X} in?", "On which continent does {X} lie?", "{X} is part of which continent?",
			"Where is {X}?", "{X} belongs to which continent?", "On what continent is {X}?", "Name the continent of {X}.",
			"In which continent is {X} found?"},
		NTrain: 4, Choices: 4, Lettered: true, Max: 220,
		build: func(src string) ([]fact, error) {
			return countryFacts(src, func(c country) (string, bool) {
				return continentNames[c.Continent], c.Continent != "AN"
			})
		},
	},
	{
		Name: "latin", Metric: "exact_match",
		Description: "English meaning of a Latin word form.",
		Sources:     []source{srcBsdgames},
		Derivation:  "quiz/latin (latin:english): subject = first alternative of the Latin form, answer = the English, expanded.",
		Templates: []string{"What does the Latin {X} mean?", "Translate the Latin word {X}.", "In English, Latin {X} means what?",
			"The Latin {X} means what in English?", "What is the English for the Latin {X}?", "Give the meaning of Latin {X}.",
			"Latin {X} translates as what?", "What is the meaning of the Latin word {X}?"},
		NTrain: 4,
		build: func(src string) ([]fact, error) {
			return quizFacts(src, "latin", 0, 1, false)
		},
	},
	{
		Name: "currencies", Metric: "multiple_choice",
		Description: "ISO 4217 currency code of a country; 4 choices.",
		Sources:     []source{srcCountries},
		Derivation: "countries.min.json: entries with exactly one currency and an ASCII name; answer = the code. " +
			"Distractors: 3 other codes used in the task.",
		Templates: []string{"Which currency does {X} use?", "What is the currency code of {X}?", "{X} pays in which currency?",
			"The money of {X} is what?", "What money is used in {X}?", "Name the currency of {X}.",
			"In {X}, people pay with which currency?", "What is the currency of {X}?"},
		NTrain: 4, Choices: 4, Max: 220,
		build: func(src string) ([]fact, error) {
			return countryFacts(src, func(c country) (string, bool) {
				if len(c.Currency) != 1 {
					return "", false
				}
				return c.Currency[0], true
			})
		},
	},
	{
		Name: "history", Metric: "exact_match",
		Description: "Year of a historical event.",
		Sources:     []source{srcCalendar},
		Derivation: "calendar.history: entries (continuation lines joined) that end in \", YEAR\"; subject = the text " +
			"before it, trailing punctuation removed, ASCII, at most 50 characters; answer = the year.",
		Templates: []string{"In what year: {X}?", "Which year? {X}", "{X}: in which year?", "Year of this event: {X}",
			"When did this happen: {X}?", "Give the year: {X}.", "What year was it: {X}?", "Date this event to the year: {X}."},
		NTrain: 4, Max: 250,
		build: func(src string) ([]fact, error) {
			return calendarFacts(src, "calendar.history", regexp.MustCompile(`^(.+?)[.;,]?, (1\d\d\d|20\d\d)$`), 50)
		},
	},
	{
		Name: "birthyears", Metric: "exact_match",
		Description: "Birth year of a famous person.",
		Sources:     []source{srcCalendar},
		Derivation: "calendar.birthday and calendar.music: entries \"NAME [is ]born[ in PLACE], YEAR\"; subject = NAME " +
			"(ASCII, at most 30 characters, no digits), answer = the year.",
		Templates: []string{"In what year was {X} born?", "{X} was born in which year?", "Birth year of {X}?",
			"When was {X} born? Give the year.", "What year was {X} born in?", "In which year was {X} born?",
			"Give the year of birth of {X}.", "The birth year of {X} is what?"},
		NTrain: 4, Max: 250,
		build: func(src string) ([]fact, error) {
			re := regexp.MustCompile(`^([A-Z][^,()]*?) (?:is )?born(?: [^,]*)?(?:, [^,]*)?, (1\d\d\d|20\d\d)$`)
			a, err := calendarFacts(src, "calendar.birthday", re, 30)
			if err != nil {
				return nil, err
			}
			b, err := calendarFacts(src, "calendar.music", re, 30)
			return append(a, b...), err
		},
	},
	{
		Name: "dialcodes", Metric: "edit_sim",
		Description: "International dialling code of a country, as \"+NNN\".",
		Sources:     []source{srcCountries},
		Derivation:  "countries.min.json: entries with exactly one phone code and an ASCII name; answer = \"+\" and the code.",
		Templates: []string{"What is the dialling code of {X}?", "Which country calling code does {X} have?",
			"To phone {X}, dial which prefix?", "International calling code for {X}?", "What is the phone code of {X}?",
			"Which code do you dial to call {X}?", "The telephone country code of {X} is what?", "Give the calling code of {X}."},
		NTrain: 4, Max: 220,
		build: func(src string) ([]fact, error) {
			return countryFacts(src, func(c country) (string, bool) {
				if len(c.Phone) != 1 {
					return "", false
				}
				return "+" + strconv.Itoa(c.Phone[0]), true
			})
		},
	},
}

// capitalTemplates phrase "capital of a country" for the European capitals of the base pack and the
// other capitals of the new pack alike: the relation is old knowledge, the facts of the new pack are not.
var capitalTemplates = []string{"What is the capital of {X}?", "Which city is the capital of {X}?",
	"Name the capital city of {X}.", "{X} has its capital in which city?", "The capital city of {X} is called what?",
	"What city is the capital of {X}?", "Which city serves as the capital of {X}?", "Where is the seat of government of {X}?"}

// baseGroups are the groups of old facts the base model is pretrained on; each becomes part of
// base/facts.jsonl with ids "base-GROUP-NNNN". Every group trains each fact in 5 of its 8 templates and
// holds out one more of them and both Novel templates.
var baseGroups = []taskDef{
	{
		Name: "eucapitals", Sources: []source{srcCountries},
		Derivation: "countries.min.json: entries with continent EU, a capital, ASCII name and capital.",
		Templates:  capitalTemplates,
		Novel:      []string{"What is the main city and capital of {X}?", "The government of {X} sits in which capital?"},
		NTrain:     5,
		build: func(src string) ([]fact, error) {
			return countryFacts(src, func(c country) (string, bool) {
				return c.Capital, c.Continent == "EU" && c.Capital != ""
			})
		},
	},
	{
		Name: "statecapitals", Sources: []source{srcBsdgames},
		Derivation: "quiz/state (state:capital:abbreviation:flower): subject = state, answer = capital.",
		Templates: []string{"What is the capital of the state of {X}?", "Which city is the capital of the US state of {X}?",
			"The state capital of {X} is what?", "Name the capital of the state of {X}.", "What city is the state capital of {X}?",
			"The US state of {X} has which capital?", "Where is the state capital of {X}?", "Which city is the seat of the state government of {X}?"},
		Novel:  []string{"The capital city of the American state of {X} is which city?", "State of {X}: what is its capital?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "state", 0, 1, false) },
	},
	{
		Name: "stateabbrevs", Sources: []source{srcBsdgames},
		Derivation: "quiz/state: subject = state, answer = postal abbreviation.",
		Templates: []string{"What is the postal abbreviation of {X}?", "Two-letter postal code of {X}?",
			"How is {X} abbreviated by the post office?", "What is the two-letter abbreviation for {X}?",
			"Which postal code stands for {X}?", "Give the postal abbreviation for the state of {X}.",
			"The US postal abbreviation of {X} is what?", "Abbreviate the state name {X} in two letters."},
		Novel:  []string{"On an envelope, {X} is written as which two letters?", "What two letters does the mail use for {X}?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "state", 0, 2, false) },
	},
	{
		Name: "provinces", Sources: []source{srcBsdgames},
		Derivation: "quiz/province (province:capital).",
		Templates: []string{"What is the capital of the province of {X}?", "Which city is the capital of the Canadian province of {X}?",
			"The provincial capital of {X} is what?", "Name the capital of the province of {X}.", "What city is the provincial capital of {X}?",
			"The Canadian province {X} has which capital?", "Where is the provincial capital of {X}?",
			"Which city is the seat of the provincial government of {X}?"},
		Novel:  []string{"The capital city of the Canadian region of {X} is which city?", "Province of {X}: what is its capital?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "province", 0, 1, false) },
	},
	{
		Name: "presidents", Sources: []source{srcBsdgames},
		Derivation: "quiz/pres (president:term:vice:successor): subject = president, answer = successor; presidents with two successors (non-consecutive terms) dropped.",
		Templates: []string{"Who succeeded {X} as US president?", "Which US president came after {X}?",
			"After {X}, who became US president?", "Who was the next US president after {X}?", "Who followed {X} as president?",
			"Which president succeeded {X}?", "Name the president who came after {X}.", "{X} was succeeded as president by whom?"},
		Novel:  []string{"When {X} left the White House, who took his place?", "Who held the presidency right after {X}?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "pres", 0, 3, false) },
	},
	{
		Name: "sovereigns", Sources: []source{srcBsdgames},
		Derivation: "quiz/sov (sovereign:century:successor): subject = sovereign, answer = successor.",
		Templates: []string{"Who succeeded {X} on the English throne?", "Which English monarch came after {X}?",
			"After {X}, who reigned in England?", "Who was the next English monarch after {X}?", "Who followed {X} on the throne of England?",
			"Which sovereign succeeded {X}?", "Name the monarch who came after {X}.", "{X} was succeeded on the throne by whom?"},
		Novel:  []string{"When the reign of {X} ended, who wore the English crown next?", "Who ruled England right after {X}?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "sov", 0, 2, false) },
	},
	{
		Name: "times", Sources: []source{srcBsdgames},
		Derivation: "quiz/mult (\"a x b\":product).",
		Templates: []string{"What is {X}?", "Compute {X}.", "{X} equals what?", "How much is {X}?", "Calculate {X}.",
			"Work out {X}.", "What do you get for {X}?", "Give the value of {X}."},
		Novel:  []string{"Multiply: {X} makes how much?", "Tell me the product {X}."},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "mult", 0, 1, false) },
	},
	{
		Name: "females", Sources: []source{srcBsdgames},
		Derivation: "quiz/sexes (male:female), the chromosome pair dropped.",
		Templates: []string{"What is the female counterpart of {X}?", "The female form of {X} is what?",
			"If the male is {X}, what is the female?", "What is the female equivalent of {X}?", "Name the female of {X}.",
			"What word is the female of {X}?", "Give the female form of {X}.", "Which word is the feminine of {X}?"},
		Novel:  []string{"A male is called {X}; what is the female called?", "{X} is male; the female one is called what?"},
		NTrain: 5,
		build: func(src string) ([]fact, error) {
			fs, err := quizFacts(src, "sexes", 0, 1, false)
			var out []fact
			for _, f := range fs {
				if len(f.Subject) > 1 {
					out = append(out, f)
				}
			}
			return out, err
		},
	},
	{
		Name: "young", Sources: []source{srcBsdgames},
		Derivation: "quiz/babies (baby:adult): subject = first alternative of the young, answer = first adult.",
		Templates: []string{"A {X} is the young of which animal?", "Which animal has young called a {X}?",
			"A baby {X} grows into what animal?", "Which animal's young is called a {X}?", "A {X} grows up to be which animal?",
			"What adult animal does a {X} become?", "Name the animal whose young is a {X}.", "The young called a {X} belongs to which animal?"},
		Novel:  []string{"When a {X} is fully grown, what animal is it?", "What is the grown-up form of a {X}?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return quizFacts(src, "babies", 0, 1, false) },
	},
	{
		Name: "antonyms", Sources: []source{srcWordnet},
		Derivation: "data.adj: direct antonyms (\"!\" pointers between head words) that are single lower-case words, each " +
			"tagged at least once in SemCor (index.adj tagsense_cnt); one fact per pair, the more common word as subject.",
		Templates: []string{"What is the opposite of {X}?", "Which word means the opposite of {X}?", "The antonym of {X} is what?",
			"Give the antonym of {X}.", "What is the antonym of {X}?", "Name the opposite of the adjective {X}.",
			"What word is the reverse of {X}?", "The opposite of {X} is which word?"},
		Novel:  []string{"If something is not {X}, it is what?", "Which adjective contrasts with {X}?"},
		NTrain: 5, Max: 300,
		build: func(src string) ([]fact, error) { return antonymFacts(src, 1) },
	},
	{
		Name: "verbforms", Sources: []source{srcWordnet},
		Derivation: "verb.exc: irregular forms whose base verb is tagged at least once in SemCor (index.verb), both " +
			"single lower-case words, not ending in -ing and not starting with the base minus its last letter (regular " +
			"and doubled-consonant forms); forms of two verbs dropped.",
		Templates: []string{"{X} is a form of which verb?", "What is the base form of the verb {X}?", "Which verb does {X} come from?",
			"The word {X} is a form of what verb?", "Give the infinitive of {X}.", "What is the plain form of {X}?",
			"Name the verb whose form is {X}.", "{X} comes from which verb?"},
		Novel:  []string{"Take the verb form {X}: what is its dictionary form?", "Look up {X} in a dictionary: under which verb?"},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return irregularFacts(src, "verb", 1) },
	},
	{
		Name: "plurals", Sources: []source{srcWordnet},
		Derivation: "noun.exc: irregular plurals whose singular is tagged at least once in SemCor (index.noun), both " +
			"single lower-case words, not starting with the singular minus its last letter.",
		Templates: []string{"What is the singular of {X}?", "{X} is the plural of which word?", "Give the singular form of {X}.",
			"What is one of the {X} called?", "Which noun has the plural {X}?", "The singular of {X} is what?",
			"Name the singular of {X}.", "{X} is the plural form of what?"},
		Novel:  []string{"If there is only one, what do you call one of the {X}?", "Turn the plural {X} into a singular."},
		NTrain: 5,
		build:  func(src string) ([]fact, error) { return irregularFacts(src, "noun", 1) },
	},
	{
		Name: "occupations", Sources: []source{srcWordnet},
		Derivation: "data.noun, noun.person: people with exactly one instance hypernym whose first lemma is one lower-case " +
			"word (the answer), named by their longest lemma of two or three capitalised words.",
		Templates: []string{"What was {X}'s occupation?", "What did {X} do for a living?", "{X} was known as what kind of person?",
			"What was the profession of {X}?", "{X} worked as what?", "By occupation, {X} was a what?", "Name the occupation of {X}.",
			"What kind of work is {X} known for?"},
		Novel:  []string{"Which job title best describes {X}?", "Describe {X} in one word: what was his or her trade?"},
		NTrain: 5, Max: 300,
		build: func(src string) ([]fact, error) { return occupationFacts(src) },
	},
}

// quizFacts turns fields subj and ans of every record of a quiz file into facts. With allSubj every
// '|' alternative of the subject field gives its own fact, otherwise the first alone.
func quizFacts(src, file string, subj, ans int, allSubj bool) ([]fact, error) {
	recs, err := quiz(src, file)
	if err != nil {
		return nil, err
	}
	var fs []fact
	for _, r := range recs {
		if len(r) <= max(subj, ans) || canon(r[ans]) == "" {
			continue
		}
		subjects := []string{r[subj]}
		if allSubj {
			subjects = alternatives(r[subj])
		}
		for _, s := range subjects {
			fs = append(fs, fact{canon(s), canon(r[ans])})
		}
	}
	return fs, nil
}

// countryFacts makes one fact per country for which pick returns ok, subject = the country's name.
func countryFacts(src string, pick func(country) (string, bool)) ([]fact, error) {
	m, err := countries(src)
	if err != nil {
		return nil, err
	}
	var fs []fact
	for _, code := range slices.Sorted(maps.Keys(m)) {
		if a, ok := pick(m[code]); ok && a != "" {
			c := m[code]
			fs = append(fs, fact{c.Name, a})
		}
	}
	return fs, nil
}

// calendarFacts matches re (groups: subject, year) against every entry of a calendar file.
func calendarFacts(src, file string, re *regexp.Regexp, maxSubj int) ([]fact, error) {
	es, err := calendarEntries(src, file)
	if err != nil {
		return nil, err
	}
	var fs []fact
	for _, e := range es {
		m := re.FindStringSubmatch(e)
		if m == nil {
			continue
		}
		s := strings.TrimRight(strings.TrimSpace(m[1]), ".;:, ")
		if len(s) == 0 || len(s) > maxSubj || strings.ContainsAny(s, "0123456789?") && maxSubj <= 30 {
			continue
		}
		fs = append(fs, fact{s, m[2]})
	}
	return fs, nil
}

func (t taskDef) String() string { return fmt.Sprintf("%s(%s)", t.Name, t.Metric) }
