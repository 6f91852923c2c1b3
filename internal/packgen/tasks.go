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
	Train       string // the trained prompt template; "{X}" is the subject
	Paraphrases []string
	NPara       int // held-out paraphrases per item (1 or 2)
	Choices     int // multiple_choice: number of choices including the answer
	Lettered    bool
	Max         int // 0: keep all; else a seeded sample of Max facts
	build       func(src string) ([]fact, error)
}

// newTasks are the new-knowledge tasks in the default round order.
var newTasks = []taskDef{
	{
		Name: "capitals", Metric: "exact_match",
		Description: "Capital city of a country or territory outside Europe.",
		Sources:     []source{srcCountries},
		Derivation: "countries.min.json: every entry whose continent is not EU or AN, whose capital is set and differs from " +
			"its name, name and capital ASCII-only. Subject = name, answer = capital. European capitals are in the base pack.",
		Train: "What is the capital of {X}?",
		Paraphrases: []string{"Which city is the capital of {X}?", "Name the capital city of {X}.",
			"{X} has its capital in which city?", "The capital city of {X} is called what?"},
		NPara: 2,
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
		Train: "What is a group of {X} called?",
		Paraphrases: []string{"A group of {X} is known as a what?", "What do you call a group of {X}?",
			"The collective noun for {X} is what?"},
		NPara: 1, Choices: 4,
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
		Train: "Continue the verse: {X}",
		Paraphrases: []string{"What line comes after \"{X}\"?", "Give the line that follows: {X}",
			"Next line after \"{X}\"?"},
		NPara: 2,
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
		Train:       "Symbol and atomic number of {X}?",
		Paraphrases: []string{"Give the chemical symbol and atomic number of {X}.", "{X}: symbol, atomic number?",
			"What are the symbol and atomic number of {X}?"},
		NPara: 1,
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
		Train:       "Which continent is {X} in?",
		Paraphrases: []string{"On which continent does {X} lie?", "{X} is part of which continent?", "Where is {X}?"},
		NPara:       1, Choices: 4, Lettered: true, Max: 220,
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
		Train:       "What does the Latin {X} mean?",
		Paraphrases: []string{"Translate the Latin word {X}.", "In English, Latin {X} means what?",
			"The Latin {X} means what in English?"},
		NPara: 1,
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
		Train:       "Which currency does {X} use?",
		Paraphrases: []string{"What is the currency code of {X}?", "{X} pays in which currency?", "The money of {X} is what?"},
		NPara:       1, Choices: 4, Max: 220,
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
		Train:       "In what year: {X}?",
		Paraphrases: []string{"Which year? {X}", "{X}: in which year?", "Year of this event: {X}"},
		NPara:       1, Max: 250,
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
		Train:       "In what year was {X} born?",
		Paraphrases: []string{"{X} was born in which year?", "Birth year of {X}?", "When was {X} born? Give the year."},
		NPara:       1, Max: 250,
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
		Train:       "What is the dialling code of {X}?",
		Paraphrases: []string{"Which country calling code does {X} have?", "To phone {X}, dial which prefix?",
			"International calling code for {X}?"},
		NPara: 1, Max: 220,
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

// baseGroups are the groups of old facts the base model is pretrained on; each becomes part of
// base/facts.jsonl with ids "base-GROUP-NNNN".
var baseGroups = []taskDef{
	{
		Name: "eucapitals", Sources: []source{srcCountries},
		Derivation: "countries.min.json: entries with continent EU, a capital, ASCII name and capital.",
		Train:      "What is the capital of {X}?",
		Paraphrases: []string{"Which city is the capital of {X}?", "Name the capital city of {X}.",
			"{X} has its capital in which city?", "The capital city of {X} is called what?"},
		NPara: 2,
		build: func(src string) ([]fact, error) {
			return countryFacts(src, func(c country) (string, bool) {
				return c.Capital, c.Continent == "EU" && c.Capital != ""
			})
		},
	},
	{
		Name: "statecapitals", Sources: []source{srcBsdgames},
		Derivation:  "quiz/state (state:capital:abbreviation:flower): subject = state, answer = capital.",
		Train:       "What is the capital of the state of {X}?",
		Paraphrases: []string{"Which city is the capital of {X}?", "The state capital of {X} is what?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "state", 0, 1, false) },
	},
	{
		Name: "stateabbrevs", Sources: []source{srcBsdgames},
		Derivation:  "quiz/state: subject = state, answer = postal abbreviation.",
		Train:       "What is the postal abbreviation of {X}?",
		Paraphrases: []string{"Two-letter postal code of {X}?", "How is {X} abbreviated by the post office?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "state", 0, 2, false) },
	},
	{
		Name: "provinces", Sources: []source{srcBsdgames},
		Derivation:  "quiz/province (province:capital).",
		Train:       "What is the capital of the province of {X}?",
		Paraphrases: []string{"Which city is the capital of {X}?", "The provincial capital of {X} is what?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "province", 0, 1, false) },
	},
	{
		Name: "presidents", Sources: []source{srcBsdgames},
		Derivation:  "quiz/pres (president:term:vice:successor): subject = president, answer = successor; presidents with two successors (non-consecutive terms) dropped.",
		Train:       "Who succeeded {X} as US president?",
		Paraphrases: []string{"Which US president came after {X}?", "After {X}, who became US president?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "pres", 0, 3, false) },
	},
	{
		Name: "sovereigns", Sources: []source{srcBsdgames},
		Derivation:  "quiz/sov (sovereign:century:successor): subject = sovereign, answer = successor.",
		Train:       "Who succeeded {X} on the English throne?",
		Paraphrases: []string{"Which English monarch came after {X}?", "After {X}, who reigned in England?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "sov", 0, 2, false) },
	},
	{
		Name: "times", Sources: []source{srcBsdgames},
		Derivation:  "quiz/mult (\"a x b\":product).",
		Train:       "What is {X}?",
		Paraphrases: []string{"Compute {X}.", "{X} equals what?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "mult", 0, 1, false) },
	},
	{
		Name: "females", Sources: []source{srcBsdgames},
		Derivation:  "quiz/sexes (male:female), the chromosome pair dropped.",
		Train:       "What is the female counterpart of {X}?",
		Paraphrases: []string{"The female form of {X} is what?", "If the male is {X}, what is the female?"},
		NPara:       1,
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
		Derivation:  "quiz/babies (baby:adult): subject = first alternative of the young, answer = first adult.",
		Train:       "A {X} is the young of which animal?",
		Paraphrases: []string{"Which animal has young called a {X}?", "A baby {X} grows into what animal?"},
		NPara:       1,
		build:       func(src string) ([]fact, error) { return quizFacts(src, "babies", 0, 1, false) },
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
