"""The recurrent (progressive) family: Toderici 2016/2017 and Johnston 2018."""
