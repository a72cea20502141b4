package providers

// CapsConfig is a buyer's optional `caps:` block: how many leads it takes
// per hour and per day, counted in its own time zone.
type CapsConfig struct {
	Hourly   int    `yaml:"hourly"`
	Daily    int    `yaml:"daily"`
	Timezone string `yaml:"timezone"`
}
