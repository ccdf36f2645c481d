"""Smart-ambulance scenarios for medlink: routes from GPX/GeoJSON, cell sites along them."""
