"""Code tables of the NOAA ISD format document that the weather message turns into text.

Texts follow the "Federal Climate Complex Data Documentation for Integrated Surface Data"
(public domain, US government). A code absent from a table (or its "missing" code) maps to
``None`` so the message never carries an invented meaning.
"""

from __future__ import annotations

# GA1-GA6 SKY-COVER-LAYER coverage code (99 = missing).
SKY_COVER_COVERAGE: dict[str, str] = {
    "00": "None, SKC or CLR",
    "01": "One okta - 1/10 or less but not zero",
    "02": "Two oktas - 2/10 - 3/10, or FEW",
    "03": "Three oktas - 4/10",
    "04": "Four oktas - 5/10, or SCT",
    "05": "Five oktas - 6/10",
    "06": "Six oktas - 7/10 - 8/10",
    "07": "Seven oktas - 9/10 or more but not 10/10, or BKN",
    "08": "Eight oktas - 10/10, or OVC",
    "09": "Sky obscured, or cloud amount cannot be estimated",
    "10": "Partial obscuration",
}

# GA1-GA6 SKY-COVER-LAYER cloud type code (99 = missing, 11 = not used).
CLOUD_TYPE: dict[str, str] = {
    "00": "Cirrus (Ci)",
    "01": "Cirrocumulus (Cc)",
    "02": "Cirrostratus (Cs)",
    "03": "Altocumulus (Ac)",
    "04": "Altostratus (As)",
    "05": "Nimbostratus (Ns)",
    "06": "Stratocumulus (Sc)",
    "07": "Stratus (St)",
    "08": "Cumulus (Cu)",
    "09": "Cumulonimbus (Cb)",
    "10": "Cloud not visible owing to darkness, fog, duststorm, sandstorm, or other "
    "analogous phenomena / sky obscured",
    "12": "Towering Cumulus (Tcu)",
    "13": "Stratus fractus (Stfra)",
    "14": "Stratocumulus Lenticular (Scsl)",
    "15": "Cumulus Fractus (Cufra)",
    "16": "Cumulonimbus Mammatus (Cbmam)",
    "17": "Altocumulus Lenticular (Acsl)",
    "18": "Altocumulus Castellanus (Accas)",
    "19": "Altocumulus Mammatus (Acmam)",
    "20": "Cirrocumulus Lenticular (Ccsl)",
    "21": "Cirrus and/or Cirrocumulus",
    "22": "Stratus and/or Fracto-stratus",
    "23": "Cumulus and/or Fracto-cumulus",
}

# AW1-AW4 PRESENT-WEATHER-OBSERVATION automated atmospheric condition code.
AUTOMATED_WEATHER: dict[str, str] = {
    "00": "No significant weather observed",
    "01": "Clouds generally dissolving or becoming less developed",
    "02": "State of sky on the whole unchanged during the past hour",
    "03": "Clouds generally forming or developing during the past hour",
    "04": "Haze, smoke, or dust in suspension in the air, visibility equal to or greater than 1km",
    "05": "Smoke",
    "07": "Dust or sand raised by wind at or near the station at the time of observation, "
    "but no well-developed dust whirl(s) or sand whirl(s), and no duststorm or sandstorm "
    "seen or, in the case of ships, blowing spray at the station",
    "10": "Mist",
    "11": "Diamond dust",
    "12": "Distant lightning",
    "18": "Squalls",
    "20": "Fog",
    "21": "Precipitation",
    "22": "Drizzle (not freezing) or snow grains",
    "23": "Rain (not freezing)",
    "24": "Snow",
    "25": "Freezing drizzle or freezing rain",
    "26": "Thunderstorm (with or without precipitation)",
    "27": "Blowing or drifting snow or sand",
    "28": "Blowing or drifting snow or sand, visibility equal to or greater than 1 km",
    "29": "Blowing or drifting snow or sand, visibility less than 1 km",
    "30": "Fog",
    "31": "Fog or ice fog in patches",
    "32": "Fog or ice fog, has become thinner during the past hour",
    "33": "Fog or ice fog, no appreciable change during the past hour",
    "34": "Fog or ice fog, has begun or become thicker during the past hour",
    "35": "Fog, depositing rime",
    "40": "Precipitation",
    "41": "Precipitation, slight or moderate",
    "42": "Precipitation, heavy",
    "43": "Liquid precipitation, slight or moderate",
    "44": "Liquid precipitation, heavy",
    "45": "Solid precipitation, slight or moderate",
    "46": "Solid precipitation, heavy",
    "47": "Freezing precipitation, slight or moderate",
    "48": "Freezing precipitation, heavy",
    "50": "Drizzle",
    "51": "Drizzle, not freezing, slight",
    "52": "Drizzle, not freezing, moderate",
    "53": "Drizzle, not freezing, heavy",
    "54": "Drizzle, freezing, slight",
    "55": "Drizzle, freezing, moderate",
    "56": "Drizzle, freezing, heavy",
    "57": "Drizzle and rain, slight",
    "58": "Drizzle and rain, moderate or heavy",
    "60": "Rain",
    "61": "Rain, not freezing, slight",
    "62": "Rain, not freezing, moderate",
    "63": "Rain, not freezing, heavy",
    "64": "Rain, freezing, slight",
    "65": "Rain, freezing, moderate",
    "66": "Rain, freezing, heavy",
    "67": "Rain or drizzle and snow, slight",
    "68": "Rain or drizzle and snow, moderate or heavy",
    "70": "Snow",
    "71": "Snow, slight",
    "72": "Snow, moderate",
    "73": "Snow, heavy",
    "74": "Ice pellets, slight",
    "75": "Ice pellets, moderate",
    "76": "Ice pellets, heavy",
    "77": "Snow grains",
    "78": "Ice crystals",
    "80": "Showers or intermittent precipitation",
    "81": "Rain showers or intermittent rain, slight",
    "82": "Rain showers or intermittent rain, moderate",
    "83": "Rain showers or intermittent rain, heavy",
    "84": "Rain showers or intermittent rain, violent",
    "85": "Snow showers or intermittent snow, slight",
    "86": "Snow showers or intermittent snow, moderate",
    "87": "Snow showers or intermittent snow, heavy",
    "89": "Hail",
    "90": "Thunderstorm",
    "91": "Thunderstorm, slight or moderate, with no precipitation",
    "92": "Thunderstorm, slight or moderate, with rain showers and/or snow showers",
    "93": "Thunderstorm, slight or moderate, with hail",
    "94": "Thunderstorm, heavy, with no precipitation",
    "95": "Thunderstorm, heavy, with rain showers and/or snow",
    "96": "Thunderstorm, heavy, with hail",
    "99": "Tornado",
}

# MW1-MW7 PRESENT-WEATHER-OBSERVATION manual atmospheric condition code (WMO code 4677).
_HAIL = "hail (hail, small hail, snow pellets)"
MANUAL_WEATHER: dict[str, str] = {
    "00": "Cloud development not observed or not observable",
    "01": "Clouds generally dissolving or becoming less developed",
    "02": "State of sky on the whole unchanged",
    "03": "Clouds generally forming or developing",
    "04": "Visibility reduced by smoke, e.g. veldt or forest fires, industrial smoke or "
    "volcanic ashes",
    "05": "Haze",
    "06": "Widespread dust in suspension in the air, not raised by wind at or near the "
    "station at the time of observation",
    "07": "Dust or sand raised by wind at or near the station at the time of observation, "
    "but no well-developed dust whirl(s) or sand whirl(s), and no duststorm or sandstorm "
    "seen or, in the case of ships, blowing spray at the station",
    "08": "Well developed dust whirl(s) or sand whirl(s) seen at or near the station during "
    "the preceding hour or at the time of observation, but no duststorm or sandstorm",
    "09": "Duststorm or sandstorm within sight at the time of observation, or at the station "
    "during the preceding hour",
    "10": "Mist",
    "11": "Patches of shallow fog or ice fog at the station, whether on land or sea, not "
    "deeper than about 2 meters on land or 10 meters at sea",
    "12": "More or less continuous shallow fog or ice fog at the station, whether on land or "
    "sea, not deeper than about 2 meters on land or 10 meters at sea",
    "13": "Lightning visible, no thunder heard",
    "14": "Precipitation within sight, not reaching the ground or the surface of the sea",
    "15": "Precipitation within sight, reaching the ground or the surface of the sea, but "
    "distant, i.e., estimated to be more than 5 km from the station",
    "16": "Precipitation within sight, reaching the ground or the surface of the sea, near "
    "to, but not at the station",
    "17": "Thunderstorm, but no precipitation at the time of observation",
    "18": "Squalls at or within sight of the station during the preceding hour or at the "
    "time of observation",
    "19": "Funnel cloud(s) (Tornado cloud or waterspout) at or within sight of the station "
    "during the preceding hour or at the time of observation",
    "20": "Drizzle (not freezing) or snow grains not falling as shower(s)",
    "21": "Rain (not freezing) not falling as shower(s)",
    "22": "Snow not falling as shower(s)",
    "23": "Rain and snow or ice pellets not falling as shower(s)",
    "24": "Freezing drizzle or freezing rain not falling as shower(s)",
    "25": "Shower(s) of rain",
    "26": "Shower(s) of snow or of rain and snow",
    "27": "Shower(s) of hail (Hail, small hail, snow pellets), or rain and hail",
    "28": "Fog or ice fog",
    "29": "Thunderstorm (with or without precipitation)",
    "30": "Slight or moderate duststorm or sandstorm has decreased during the preceding hour",
    "31": "Slight or moderate duststorm or sandstorm no appreciable change during the "
    "preceding hour",
    "32": "Slight or moderate duststorm or sandstorm has begun or has increased during the "
    "preceding hour",
    "33": "Severe duststorm or sandstorm has decreased during the preceding hour",
    "34": "Severe duststorm or sandstorm no appreciable change during the preceding hour",
    "35": "Severe duststorm or sandstorm has begun or has increased during the preceding hour",
    "36": "Slight or moderate drifting snow generally low (below eye level)",
    "37": "Heavy drifting snow generally low (below eye level)",
    "38": "Slight or moderate blowing snow generally high (above eye level)",
    "39": "Heavy blowing snow generally high (above eye level)",
    "40": "Fog or ice fog at a distance at the time of observation, but not at the station "
    "during the preceding hour, the fog or ice fog extending to a level above that of the "
    "observer",
    "41": "Fog or ice fog in patches",
    "42": "Fog or ice fog, sky visible, has become thinner during the preceding hour",
    "43": "Fog or ice fog, sky invisible, has become thinner during the preceding hour",
    "44": "Fog or ice fog, sky visible, no appreciable change during the preceding hour",
    "45": "Fog or ice fog, sky invisible, no appreciable change during the preceding hour",
    "46": "Fog or ice fog, sky visible, has begun or has become thicker during the preceding hour",
    "47": "Fog or ice fog, sky invisible, has begun or has become thicker during the "
    "preceding hour",
    "48": "Fog, depositing rime, sky visible",
    "49": "Fog, depositing rime, sky invisible",
    "50": "Drizzle, not freezing, intermittent, slight at time of observation",
    "51": "Drizzle, not freezing, continuous, slight at time of observation",
    "52": "Drizzle, not freezing, intermittent, moderate at time of observation",
    "53": "Drizzle, not freezing, continuous, moderate at time of observation",
    "54": "Drizzle, not freezing, intermittent, heavy (dense) at time of observation",
    "55": "Drizzle, not freezing, continuous, heavy (dense) at time of observation",
    "56": "Drizzle, freezing, slight",
    "57": "Drizzle, freezing, moderate or heavy (dense)",
    "58": "Drizzle and rain, slight",
    "59": "Drizzle and rain, moderate or heavy",
    "60": "Rain, not freezing, intermittent, slight at time of observation",
    "61": "Rain, not freezing, continuous, slight at time of observation",
    "62": "Rain, not freezing, intermittent, moderate at time of observation",
    "63": "Rain, not freezing, continuous, moderate at time of observation",
    "64": "Rain, not freezing, intermittent, heavy at time of observation",
    "65": "Rain, not freezing, continuous, heavy at time of observation",
    "66": "Rain, freezing, slight",
    "67": "Rain, freezing, moderate or heavy",
    "68": "Rain or drizzle and snow, slight",
    "69": "Rain or drizzle and snow, moderate or heavy",
    "70": "Intermittent fall of snowflakes, slight at time of observation",
    "71": "Continuous fall of snowflakes, slight at time of observation",
    "72": "Intermittent fall of snowflakes, moderate at time of observation",
    "73": "Continuous fall of snowflakes, moderate at time of observation",
    "74": "Intermittent fall of snowflakes, heavy at time of observation",
    "75": "Continuous fall of snowflakes, heavy at time of observation",
    "76": "Diamond dust (with or without fog)",
    "77": "Snow grains (with or without fog)",
    "78": "Isolated star-like snow crystals (with or without fog)",
    "79": "Ice pellets",
    "80": "Rain shower(s), slight",
    "81": "Rain shower(s), moderate or heavy",
    "82": "Rain shower(s), violent",
    "83": "Shower(s) of rain and snow mixed, slight",
    "84": "Shower(s) of rain and snow mixed, moderate or heavy",
    "85": "Snow shower(s), slight",
    "86": "Snow shower(s), moderate or heavy",
    "87": "Shower(s) of snow pellets or small hail, with or without rain or rain and snow "
    "mixed, slight",
    "88": "Shower(s) of snow pellets or small hail, with or without rain or rain and snow "
    "mixed, moderate or heavy",
    "89": f"Shower(s) of {_HAIL}, with or without rain or rain and snow mixed, not "
    "associated with thunder, slight",
    "90": f"Shower(s) of {_HAIL}, with or without rain or rain and snow mixed, not "
    "associated with thunder, moderate or heavy",
    "91": "Slight rain at time of observation, thunderstorm during the preceding hour but "
    "not at time of observation",
    "92": "Moderate or heavy rain at time of observation, thunderstorm during the preceding "
    "hour but not at time of observation",
    "93": f"Slight snow, or rain and snow mixed or {_HAIL}, at time of observation, "
    "thunderstorm during the preceding hour but not at time of observation",
    "94": f"Moderate or heavy snow, or rain and snow mixed or {_HAIL} at time of "
    "observation, thunderstorm during the preceding hour but not at time of observation",
    "95": f"Thunderstorm, slight or moderate, without {_HAIL}, but with rain and/or snow at "
    "time of observation, thunderstorm at time of observation",
    "96": f"Thunderstorm, slight or moderate, with {_HAIL} at time of observation, "
    "thunderstorm at time of observation",
    "97": f"Thunderstorm, heavy, without {_HAIL}, but with rain and/or snow at time of "
    "observation, thunderstorm at time of observation",
    "98": "Thunderstorm combined with duststorm or sandstorm at time of observation, "
    "thunderstorm at time of observation",
    "99": f"Thunderstorm, heavy, with {_HAIL} at time of observation, thunderstorm at time "
    "of observation",
}

# AA1-AA4 LIQUID-PRECIPITATION condition code (9 = missing). The message keeps the code.
LIQUID_PRECIP_CONDITION: dict[str, str] = {
    "1": "Measurement impossible or inaccurate",
    "2": "Trace",
    "3": "Begin accumulated period (precipitation amount missing until end of accumulated period)",
    "4": "End accumulated period",
    "5": "Begin deleted period (precipitation amount missing due to data problem)",
    "6": "End deleted period",
    "7": "Begin missing period",
    "8": "End missing period",
    "E": "Estimated data value (eg, from nearby station)",
    "I": "Incomplete precipitation amount, excludes one or more missing reports",
    "J": "Incomplete precipitation amount, excludes one or more erroneous reports",
}

# KA1-KA4 EXTREME-AIR-TEMPERATURE code (9 = missing). The message keeps the code.
EXTREME_TEMPERATURE_CODE: dict[str, str] = {
    "N": "Minimum temperature",
    "M": "Maximum temperature",
    "O": "Estimated minimum temperature",
    "P": "Estimated maximum temperature",
}

# Length (characters after the 3-character identifier) of every additional-data group,
# from the ISD format document. The additional section is a run of such groups with no
# separators, so a group we do not need must still be skipped by its exact length.
_GROUP_LENGTHS: dict[str, int] = {
    **{f"AA{i}": 8 for i in range(1, 5)},
    "AB1": 7, "AC1": 3, "AD1": 19, "AE1": 12, "AG1": 4,
    **{f"AH{i}": 15 for i in range(1, 7)},
    **{f"AI{i}": 15 for i in range(1, 7)},
    "AJ1": 14, "AK1": 12,
    **{f"AL{i}": 7 for i in range(1, 5)},
    "AM1": 18, "AN1": 9,
    **{f"AO{i}": 8 for i in range(1, 5)},
    **{f"AP{i}": 6 for i in range(1, 5)},
    **{f"AT{i}": 9 for i in range(1, 9)},
    **{f"AU{i}": 8 for i in range(1, 10)},
    **{f"AW{i}": 3 for i in range(1, 5)},
    **{f"AX{i}": 6 for i in range(1, 7)},
    **{f"AY{i}": 5 for i in range(1, 3)},
    **{f"AZ{i}": 5 for i in range(1, 3)},
    **{f"CB{i}": 10 for i in range(1, 3)},
    **{f"CF{i}": 6 for i in range(1, 4)},
    **{f"CG{i}": 8 for i in range(1, 4)},
    **{f"CH{i}": 15 for i in range(1, 3)},
    "CI1": 28, "CN1": 18, "CN2": 18, "CN3": 16, "CN4": 19, "CO1": 5,
    **{f"CO{i}": 8 for i in range(2, 10)},
    "CR1": 7,
    **{f"CT{i}": 7 for i in range(1, 4)},
    **{f"CU{i}": 13 for i in range(1, 4)},
    **{f"CV{i}": 26 for i in range(1, 4)},
    "CW1": 14,
    **{f"CX{i}": 26 for i in range(1, 4)},
    "ED1": 8,
    **{f"GA{i}": 13 for i in range(1, 7)},
    **{f"GD{i}": 12 for i in range(1, 7)},
    "GE1": 19, "GF1": 23,
    **{f"GG{i}": 15 for i in range(1, 7)},
    "GH1": 28, "GJ1": 5, "GK1": 4, "GL1": 6, "GM1": 30, "GN1": 28, "GO1": 19, "GP1": 31,
    "GQ1": 14, "GR1": 14, "HL1": 4, "IA1": 3, "IA2": 9, "IB1": 27, "IB2": 13, "IC1": 25,
    **{f"KA{i}": 10 for i in range(1, 5)},
    **{f"KB{i}": 10 for i in range(1, 4)},
    **{f"KC{i}": 14 for i in range(1, 3)},
    **{f"KD{i}": 9 for i in range(1, 3)},
    "KE1": 12, "KF1": 6,
    **{f"KG{i}": 11 for i in range(1, 3)},
    "MA1": 12, "MD1": 11, "ME1": 6, "MF1": 12, "MG1": 12, "MH1": 12, "MK1": 24,
    **{f"MV{i}": 3 for i in range(1, 8)},
    **{f"MW{i}": 3 for i in range(1, 8)},
    **{f"OA{i}": 8 for i in range(1, 4)},
    **{f"OB{i}": 28 for i in range(1, 3)},
    "OC1": 5,
    **{f"OD{i}": 11 for i in range(1, 4)},
    **{f"OE{i}": 16 for i in range(1, 4)},
    **{f"RH{i}": 9 for i in range(1, 4)},
    "SA1": 5, "ST1": 17, "UA1": 10, "UG1": 9, "UG2": 9, "WA1": 6, "WD1": 20, "WG1": 11,
    "WJ1": 19,
}  # fmt: skip
ADDITIONAL_GROUP_LENGTHS: dict[str, int] = _GROUP_LENGTHS
"""Data length of each additional-data group, keyed by its identifier (e.g. ``GA1``)."""

END_OF_ADDITIONAL = ("REM", "EQD", "QNN")
"""Identifiers that end the additional-data section (remarks, element quality data...)."""
